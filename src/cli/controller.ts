import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { ReplayGuard } from '../api/iam-login.js';
import { createApiServer, listen, parseListen, type RunStats } from '../api/server.js';
import { ChangeFeed } from '../api/changes.js';
import { checkInstanceId, findGroup, hashToken, historyFilters, historyView, issueToken, statusView, windowsView } from '../api/services.js';
import * as wire from '../api/wire.js';
import { DEFAULT_CONFIG, DEFAULT_STATE_DIR, storePathOf, TARGET_HELP, TARGET_OPTIONS, viaApiOrStore } from './remote.js';
import { openController, simulatorSpec, ssmWindowsOf, worldClock } from '../app/compose.js';
import { HISTORY_TYPES, type WindowSource } from '../ports/index.js';
import { simulate } from '../app/simulate.js';
import { controllerLog, type ControllerLog, LOG_FORMATS, LOG_LEVELS, type LogLevel } from '../app/log.js';
import { ControllerMetrics } from '../app/metrics.js';
import { semiSpaceOption, tuneControllerHeap, youngGeneration } from '../app/heap.js';
import { capYoungGeneration, v8YoungSpace } from '../app/young-cap.js';
import { loadConfigFile } from '../config/load.js';
import { type SsmWindowInfo, ssmWindowsForGroup } from '../config/ssm-windows.js';
import type { FleetConfig } from '../config/config.js';
import { renderReport } from '../web/report.js';
import { type PeriodRow, timelineInput, type TransitionRow } from '../web/timeline-data.js';
import { formatDuration } from '../domain/durations.js';
import { formatInstant, parseInstant } from '../domain/time.js';
import { type ControllerEvent, Reconciler } from '../reconciler/reconciler.js';
import type { TokenStore } from '../ports/index.js';
import { type CliIo, type Command, escapeControl, EXIT, intOption, parse, table, UsageError } from './io.js';
import { checkWorldFlags, simulateWorld } from './world.js';

const DEFAULT_LISTEN = '127.0.0.1:8080';
/** The least time between two ticks when agents' reports ask for one sooner than the interval. */
const MIN_TICK_GAP_MS = 200;
/** Agents' long polls look again at least this often, even after quiet ticks. */
const QUIET_WAKE_MS = 5000;

/**
 * The admin token: FLEETWARDEN_ADMIN_TOKEN when set (its hash is returned), else one stored in the store; on the first
 * run one is generated and written to <state-dir>/admin-token with mode 0600 — never printed or logged.
 */
async function ensureAdminToken(store: TokenStore, stateDir: string, now: number, log: ControllerLog): Promise<string | null> {
  const fromEnv = process.env['FLEETWARDEN_ADMIN_TOKEN'];
  if (fromEnv !== undefined && fromEnv !== '') return hashToken(fromEnv);
  if ((await store.tokens()).some((t) => t.role === 'admin')) return null;
  const { token } = await issueToken(store, 'admin', null, 'generated on first run', now);
  const file = join(stateDir, 'admin-token');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  log.diag.warn({ type: 'admin-token', file }, `fleetwarden: generated the API admin token in ${file} (mode 0600)`);
  return null;
}
const COMMON_HELP = `  --config FILE     configuration file (default ${DEFAULT_CONFIG})
  --state-dir DIR   where the SQLite store (and the simulated world) live (default ${DEFAULT_STATE_DIR}/)`;

/** How much an event matters: what `--log-level` filters on. */
function eventLevel(e: ControllerEvent): LogLevel {
  if (e.type === 'error') return 'error';
  if (e.type === 'retry' || (e.type === 'problem' && e.state === 'found')) return 'warn';
  return 'info';
}

function eventJson(e: ControllerEvent): Record<string, unknown> {
  switch (e.type) {
    case 'transition':
      return { at: formatInstant(e.at), group: e.group, instance: e.instance, type: 'transition', from: e.from, to: e.to, reason: e.reason };
    case 'command':
      return { at: formatInstant(e.at), group: e.group, type: 'command', command: e.command, instances: e.instances, reason: e.reason };
    case 'window':
      return { at: formatInstant(e.at), group: e.group, type: 'window', name: e.name, state: e.state };
    case 'retry':
    case 'error':
    case 'lease':
      return { at: formatInstant(e.at), group: e.group, type: e.type, message: e.message };
    case 'maintenance':
      return { at: formatInstant(e.at), group: e.group, instance: e.instance, type: 'maintenance', message: e.message };
    case 'problem':
      return { at: formatInstant(e.at), group: e.group, type: 'problem', state: e.state, ...e.problem };
  }
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(flag, `expected one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

const run: Command = {
  name: 'run',
  summary: 'run the controller (the simulated fleet by default); Ctrl-C stops cleanly, running again resumes',
  help: `Usage: fleetwarden run [--config FILE] [--state-dir DIR] [--listen HOST:PORT|none] [--once] [--speed N]
                      [--log-format text|json] [--log-level error|warn|info|debug] [--json]

Runs the reconciler: every tick it observes the fleet, resolves the effective configuration, plans and acts,
and records everything in the store. Transitions, commands and windows are printed as they happen.

${COMMON_HELP}
  --listen HOST:PORT  serve the HTTP API there (default 127.0.0.1:8080; port 0 picks a free one; none: no API)
  --once            one tick, then exit
  --speed N         with the simulator: simulated seconds per real second (default: simulator.speed, or 1)
  --log-format F    text (default): one readable line per event; json: JSON Lines (pino), each with level,
                    time, group and the event's fields (type, at, instance, ...)
  --log-level L     error, warn, info (default) or debug (adds every API request)
  --json            the same as --log-format json

Events go to stdout; the process's own messages (refused API requests, failed ticks) to stderr. Tokens and
credentials are never logged. With an 'events' section, transitions, refused actions, windows and maintenance
results are also published to EventBridge and/or a webhook, in the background (a failed delivery is reported on
stderr and in fleetwarden_events_out; the tick never waits for it).

Only one controller acts on a group at a time (a lease in the store); a second one waits and takes over when
the first stops or dies. State survives restarts: Ctrl-C (or SIGTERM) finishes the current tick and exits.

The API needs a bearer token. The admin token is FLEETWARDEN_ADMIN_TOKEN when set; otherwise one is generated
on the first run and written to <state-dir>/admin-token (mode 0600) — it is printed nowhere. Agents get their own
tokens: 'fleetwarden token issue --instance ID', or log in with their instance's IAM role (controller.agentIam).
Refused requests (401/403) and server errors are logged to stderr with method, path and status only.

Memory: the heap may grow FLEETWARDEN_HEAP_GROWING_PERCENT (default 20) past what is live before a full collection,
and the young generation has semi-spaces of FLEETWARDEN_SEMI_SPACE_MB (default 4 MiB): V8 reads that size only when
node starts, so run restarts node in place with --max-semi-space-size first thing (same process id), where node can
(22.15 or later, on Linux or macOS; not with an IPC channel); elsewhere it keeps the young generation near that size
by V8's growth factor (NODE_OPTIONS=--max-semi-space-size=4 sets it exactly). 0 leaves V8's own; node's own option
wins. --log-level debug says what was done.`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { config: { type: 'string' }, 'state-dir': { type: 'string' }, listen: { type: 'string' }, once: { type: 'boolean' }, speed: { type: 'string' }, json: { type: 'boolean' }, 'log-format': { type: 'string' }, 'log-level': { type: 'string' } }, false);
    const format = oneOf(values['log-format'] ?? (values.json === true ? 'json' : 'text'), LOG_FORMATS, '--log-format');
    if (values.json === true && format !== 'json') throw new UsageError('--json', 'contradicts --log-format text; give one of them');
    const level = oneOf(values['log-level'] ?? 'info', LOG_LEVELS, '--log-level');
    const listenAt = values.listen === 'none' ? null : parseListen(values.listen ?? DEFAULT_LISTEN, '--listen');
    // A long-lived process: its heap is kept near what is live and its young generation small (src/app/heap.ts);
    // both checked with the flags. The young generation is sized when node starts: the program's entry point has
    // restarted node in place with it where it could, first thing (main.ts), and says so (io.youngGeneration).
    const young = youngGeneration(process.env, process.execArgv, 'not started as the program');
    const heap = tuneControllerHeap();
    // Where node could not be restarted with the young generation's size: kept at it by V8's growth factor. Should
    // that not hold, it says why: once the log is there (a word from before it is kept until then).
    const lost = { early: null as string | null, tell: null as ((why: string) => void) | null };
    const cap = young.capMiB === null ? null : capYoungGeneration(young.capMiB, v8YoungSpace, (why) => {
      if (lost.tell === null) lost.early = why;
      else lost.tell(why);
    });
    try {
      const youngNote = io.youngGeneration ?? young.note;
      const config = loadConfigFile(values.config ?? DEFAULT_CONFIG);
      const speed = values.speed === undefined ? undefined : Number(values.speed);
      if (speed !== undefined && (!Number.isFinite(speed) || speed <= 0 || speed > 100_000)) throw new UsageError('--speed', `expected a positive number up to 100000, got "${values.speed ?? ''}"`);
      const log = controllerLog({ format, level }, (line) => {
        io.out(line);
      }, (line) => {
        io.err(line);
      });
      const print = (e: ControllerEvent): void => {
        const { group, ...fields } = eventJson(e);
        log.group(String(group))[eventLevel(e)](fields, Reconciler.describe(e));
      };
      // This controller's registry: tick and provider-call histograms and the process metrics, served by /metrics.
      const metrics = new ControllerMetrics({ process: true });
      const stateDir = values['state-dir'] ?? DEFAULT_STATE_DIR;
      // A sink's failure is the process's own news (stderr, and fleetwarden_events_out on /metrics), never the tick's.
      const onPublishFailure = (sink: string, message: string): void => {
        log.diag.warn({ type: 'events-out', sink }, `fleetwarden: events out (${sink}): ${message}`);
      };
      log.diag.debug({ type: 'heap', flag: heap.applied }, `fleetwarden: ${heap.note}`);
      // The option as node has it (only that one: node's other options are none of the log's business).
      log.diag.debug({ type: 'young-generation', pid: process.pid, nodeOption: semiSpaceOption(process.execArgv, process.env), capMiB: cap?.holding() === true ? young.capMiB : null }, `fleetwarden: ${youngNote}`);
      lost.tell = (why) => {
        log.diag.warn({ type: 'young-generation-lost', pid: process.pid, why }, `fleetwarden: ${why}; V8's own young generation from now on (NODE_OPTIONS=--max-semi-space-size=${young.capMiB ?? ''} sets it exactly)`);
      };
      if (lost.early !== null) lost.tell(lost.early);
      const ctl = await openController(config, { stateDir, speed, onEvent: print, metrics, onPublishFailure });
      const stats: RunStats = { ticks: 0, tickErrors: 0, lastTickSeconds: 0, lastTickAt: null };
      const changes = new ChangeFeed();
      const wake = { now: false, last: 0 };
      // Set from signal handlers and the API: an object, so the loop re-reads it after every await.
      const signal = { stopping: false, again: false, wake: null as (() => void) | null };
      let server: Server | null = null;
      try {
        if (listenAt !== null) {
          // Only a function URL knows its own domain: served here, a login's server id must be configured.
          for (const [name, iam] of [['agentIam', config.controller.agentIam], ['operatorIam', config.controller.operatorIam]] as const) {
            if (iam !== null && iam.serverId === undefined) throw new UsageError(`controller.${name}.serverId`, 'is required when the API is served by fleetwarden run (the server id logins are signed for, e.g. the HOST:PORT agents and operators use); only on a Lambda function URL is it the URL’s own domain');
          }
          const adminTokenHash = await ensureAdminToken(ctl.store, stateDir, ctl.clock.now(), log);
          // One replay guard for both logins: a signed request is redeemed once, whichever route it is sent to.
          const replay = new ReplayGuard();
          server = createApiServer({
            store: ctl.store,
            config,
            clock: ctl.clock,
            live: ctl.reconciler,
            adminTokenHash,
            objects: ctl.objects,
            stats,
            ...(ctl.windowSource === null ? {} : { ssmWindows: () => (ctl.windowSource as WindowSource).list() }),
            ...(config.controller.agentIam === null ? {} : { agentIam: { settings: config.controller.agentIam, replay, inFlight: 0 } }),
            ...(config.controller.operatorIam === null ? {} : { operatorIam: { settings: config.controller.operatorIam, replay, inFlight: 0 } }),
            changes,
            // An agent confirmed a drain step: the next tick need not wait for its interval (docs/agent.md#latency).
            onAgentChange: () => {
              signal.again = true;
              signal.wake?.();
            },
            metrics: metrics.registry,
            // Method, path and status only: never headers (the token) or the query.
            log: (e) => {
              const at = e.status >= 500 ? 'error' : e.status === 401 || e.status === 403 ? 'warn' : 'debug';
              log.diag[at]({ type: 'api-request', method: e.method, path: e.path, status: e.status, ms: Math.round(e.ms * 1000) / 1000, ...(e.error === undefined ? {} : { stack: e.error }) }, `api: ${e.method} ${e.path} ${e.status}`);
            },
          });
          const bound = await listen(server, listenAt.host, listenAt.port).catch((err: unknown) => {
            const code = (err as NodeJS.ErrnoException).code ?? String(err);
            throw new UsageError('--listen', `cannot listen on ${listenAt.host}:${listenAt.port} (${code}); pick another HOST:PORT, or --listen none`);
          });
          const url = `http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}`;
          log.events.info({ type: 'api', url }, `API on ${url} (OpenAPI at /openapi.json)`);
        }
      } catch (err) {
        server?.close();
        await ctl.close();
        throw err;
      }
      const stop = (): void => {
        signal.stopping = true;
        signal.wake?.();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const realInterval = config.controller.tickIntervalMs / (speed ?? config.simulator?.speed ?? 1);
      log.events.info({ type: 'start', groups: config.groups.length, provider: config.provider }, `fleetwarden: ${config.groups.length} group(s), provider ${config.provider}, store ${storePathOf(config, stateDir)}, tick every ${formatDuration(config.controller.tickIntervalMs)}${config.provider === 'simulator' ? ` of simulated time (×${speed ?? config.simulator?.speed ?? 1}), simulated clock at ${formatInstant(ctl.clock.now())}` : ''}`);
      try {
        do {
          const started = Date.now();
          try {
            const summary = await ctl.reconciler.tick();
            wake.now = summary.groups.some((g) => g.plan.transitions.length > 0 || g.plan.commands.length > 0 || g.maintenanceRunning);
            stats.ticks++;
            stats.lastTickSeconds = (Date.now() - started) / 1000;
            stats.lastTickAt = Date.now();
            for (const g of summary.skipped) if (values.once === true) log.group(g).info({ type: 'held' }, `${g}: held by another controller`);
            stats.tickErrors += summary.failed.length;
            // Each failed group was already reported as it failed; the others acted. --once says so by its exit code.
            if (values.once === true && summary.failed.length > 0) process.exitCode = 1;
          } catch (err) {
            // A tick that fails (a cloud API down after every retry) changes nothing: the next one starts over from
            // what it observes. The controller keeps going; --once reports the failure.
            stats.tickErrors++;
            if (values.once === true) throw err;
            const message = err instanceof Error ? err.message : String(err);
            log.diag.error({ at: formatInstant(ctl.clock.now()), type: 'tick-error', message }, `tick failed: ${message}; trying again next tick`);
          }
          // Agents' long polls look again when this tick changed something an agent acts on (a transition, a command,
          // a maintenance step), and at least every few seconds (goals that change with time): not after every quiet
          // tick, where every held poll would re-read its view for nothing.
          if (wake.now || Date.now() - wake.last >= QUIET_WAKE_MS) {
            changes.notify();
            wake.last = Date.now();
          }
          wake.now = false;
          if (values.once === true) break;
          // An agent's report arrived meanwhile: tick again soon (not in a tight loop), else at the interval.
          const interval = signal.again ? Math.min(realInterval, MIN_TICK_GAP_MS) : realInterval;
          signal.again = false;
          const wait = Math.max(0, interval - (Date.now() - started));
          await new Promise<void>((r) => {
            signal.wake = r;
            setTimeout(r, wait);
          });
        } while (!signal.stopping);
      } finally {
        if (server !== null) {
          server.closeAllConnections();
          server.close();
        }
        await ctl.close();
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
      if (signal.stopping) log.events.info({ type: 'stopped' }, 'stopped cleanly; run again to resume');
      return EXIT.ok;
    } finally {
      cap?.stop();
    }
  },
};

const simulateCmd: Command = {
  name: 'simulate',
  summary: 'run the real controller against the simulator on a virtual clock (--world: on a snapshot of your fleet, diffed)',
  help: `Usage: fleetwarden simulate --config FILE --from ISO --to ISO [--json] [--report FILE.html]
       fleetwarden simulate --world FILE --config NEW.yaml --from ISO --to ISO [--against FILE] [--json]

Answers "what will happen this week?": runs the real reconciler against the simulated fleet of the
configuration on a virtual clock, as fast as the CPU allows, starting from a fresh simulated world at --from.
The clock ticks at the controller's interval while anything moves and jumps to the next event when the fleet is
at rest. Nothing is written to disk.

  --json   JSON Lines, one per event:
           {"at":..,"group":..,"instance":..,"type":"transition","from":..,"to":..,"reason":..}
           {"at":..,"group":..,"type":"command","command":"start|stop|deregister|register|run-event ...|check-bypass","instances":[..],"reason":..}
           {"at":..,"group":..,"type":"window","name":..,"state":"enter|exit"}
  Without --json: a readable timeline and a summary (starts, stops, forced stops, time in each state).

With --world (a file from 'fleetwarden snapshot'): "what will NEW.yaml do to my fleet?". The simulator starts
from the snapshot — its instances exactly (ids, tags, power, target groups), windows and measured timings —
instead of the configuration's simulator section, and runs twice: with NEW.yaml, and with the current
configuration (the one embedded in the world file, or --against FILE). Prints each side's figures and the
change: instance-hours by lifecycle state, starts, stops, forced stops, windows entered, stops during a window
(should be 0), maintenance tasks run and failed, most instances out of service at once.
  --against FILE   compare with this configuration instead of the world's own
  --json           one JSON object: {world, takenAt, from, to, current: {config, report}, new: {config, report}, change}
  --report FILE.html  (without --world) also write one self-contained HTML page (inline SVG, nothing fetched): each
            group's timeline — window periods with start-ahead and cutoff, each instance's states with the reasons
            on hover — for sharing and printing (docs/dashboard.md#the-simulate-report).`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { config: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' }, world: { type: 'string' }, against: { type: 'string' }, report: { type: 'string' } }, false);
    checkWorldFlags(values.world, values.against);
    if (values.report !== undefined && values.world !== undefined) throw new UsageError('--report', 'is not available with --world yet: the comparison is printed, not drawn');
    if (values.report === '') throw new UsageError('--report', 'needs a file name, e.g. --report week.html');
    if (values.config === undefined) throw new UsageError('--config', values.world === undefined ? 'is required' : 'is required: the new configuration to try on the world');
    if (values.from === undefined) throw new UsageError('--from', 'is required, e.g. --from 2026-06-01T00:00:00Z');
    if (values.to === undefined) throw new UsageError('--to', 'is required, e.g. --to 2026-06-08T00:00:00Z');
    const from = parseInstant(values.from, '--from');
    const to = parseInstant(values.to, '--to');
    if (to <= from) throw new UsageError('--to', 'must be after --from');
    if (to - from > 366 * 86_400_000) throw new UsageError('--to', 'a simulation covers at most a year');
    if (values.world !== undefined) return simulateWorld({ world: values.world, config: values.config, against: values.against, from, to, json: values.json === true }, io);
    const config = loadConfigFile(values.config);
    simulatorSpec(config);
    const json = values.json === true;
    // The report's instance rows: every transition of the run, collected here (the simulation itself is unchanged).
    const transitions: TransitionRow[] = [];
    const report = await simulate({ ...config, provider: 'simulator' }, from, to, (e) => {
      if (e.type === 'transition' && values.report !== undefined) transitions.push({ at: e.at, group: e.group, instance: e.instance, from: e.from, to: e.to, reason: e.reason });
      if (json) {
        if (e.type === 'transition' || e.type === 'command' || e.type === 'window') io.out(JSON.stringify(eventJson(e)));
      } else if (e.type !== 'lease') io.out(escapeControl(Reconciler.describe(e)));
    });
    const total = Object.values(report.timeInState).reduce((a, b) => a + b, 0) || 1;
    const rows = Object.entries(report.timeInState)
      .sort((a, b) => b[1] - a[1])
      .map(([state, msTotal]) => [state, formatDuration(Math.round(msTotal / 60_000) * 60_000), `${((100 * msTotal) / total).toFixed(1)}%`]);
    if (!json) {
      io.out(`\nsummary ${formatInstant(from)} → ${formatInstant(to)}: ${report.ticks} ticks, ${report.starts} starts, ${report.stops} stops (${report.forcedStops} forced), ${report.retries} retries; ${report.windowsEntered} windows entered, ${report.stopsInWindow} stops during a window, ${report.tasks.run} maintenance tasks run (${report.tasks.failed} failed), at most ${report.maxOutOfService} out of service at once`);
      io.out(table(['state', 'instance-time', 'share'], rows));
    }
    if (values.report !== undefined) {
      const simulated = { ...config, provider: 'simulator' as const };
      const ssm = await ssmWindowsOf(simulated, { now: () => from })();
      const periods = reportPeriods(simulated, windowsView(simulated, from, to, undefined, ssm).periods, ssm, from);
      const html = renderReport({
        title: `Fleetwarden simulation of ${values.config}`,
        from,
        to,
        summary: [`${report.ticks} ticks, ${report.starts} starts, ${report.stops} stops (${report.forcedStops} forced), ${report.retries} retries; ${periods.length} window period(s).`],
        table: { head: ['state', 'instance-time', 'share'], rows },
        timelines: config.groups.map((g) => timelineInput(g.name, from, to, periods, transitions)),
      });
      try {
        writeFileSync(values.report, html);
      } catch (err) {
        throw new UsageError('--report', `cannot write ${values.report}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      if (!json) io.out(escapeControl(`report written to ${values.report}`));
    }
    return EXIT.ok;
  },
};

/** The periods of /v1/windows with each one's last task start (end − the window's cutoff), for the timeline. */
function reportPeriods(config: FleetConfig, rows: readonly PeriodRow[], ssm: readonly SsmWindowInfo[], from: number): PeriodRow[] {
  return rows.map((p) => {
    const g = config.groups.find((x) => x.name === p.group);
    const decls = g === undefined ? [] : [...g.windows, ...ssmWindowsForGroup(ssm, g.name, config.naming, from).windows];
    const cutoff = decls.find((w) => w.name === p.window)?.schedule?.cutoffMs ?? 0;
    return { ...p, lastTaskStart: cutoff > 0 ? formatInstant(Date.parse(p.end) - cutoff) : undefined };
  });
}

const status: Command = {
  name: 'status',
  summary: 'the fleet now: each instance’s lifecycle state, since when and why',
  help: `Usage: fleetwarden status [--group NAME] [--json] [--url URL] [--config FILE] [--state-dir DIR]

Prints each managed instance's state (and, where agents report, what its agent applied: ports, health answer),
from a running controller's API (--url) or from the store.

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { ...TARGET_OPTIONS, group: { type: 'string' }, json: { type: 'boolean' } }, false);
    const group = values.group;
    const view = await viaApiOrStore(
      values,
      (api) => api.call('GET', `/v1/status${group === undefined ? '' : `?group=${encodeURIComponent(group)}`}`, wire.statusJson),
      (store, config, local) => statusView(store, config, local.now, group),
    );
    if (values.json === true) {
      io.out(JSON.stringify(view));
      return EXIT.ok;
    }
    // The agent column (what each instance's agent last reported applying) only where some agent reports.
    const agents = view.instances.some((r) => r.agent != null);
    const agentCell = (a: { ports: string; health: string } | null | undefined): string => (a == null ? '-' : `ports ${a.ports}, health ${a.health}`);
    io.out(table(['group', 'instance', 'state', 'since', ...(agents ? ['agent'] : []), 'reason'], view.instances.map((r) => [r.group, r.instance, r.state, r.since, ...(agents ? [agentCell(r.agent)] : []), r.reason])));
    const counts = new Map<string, number>();
    for (const r of view.instances) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    io.out(`\n${view.instances.length} instance(s): ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`);
    for (const l of view.leases) io.out(escapeControl(`${l.group}: ${l.owner === null ? 'no controller holds the lease' : `controller ${l.owner} (lease until ${l.expiresAt ?? '?'})`}`));
    for (const g of view.groups) {
      const w = g.workload;
      if (w !== undefined) {
        const seq = w.sequence === null ? 'no sequence yet' : `${w.sequence.direction} sequence since ${w.sequence.since}${w.sequence.aborted === null ? '' : ` (aborted at tier ${w.sequence.aborted.tier}: ${w.sequence.aborted.reason})`}`;
        const kill = w.killSwitch.value === 'true' ? `; KILL SWITCH ON (${w.killSwitch.setBy}${w.killSwitch.expiresAt === null ? '' : ` until ${w.killSwitch.expiresAt}`}): no action on the workload` : '';
        io.out(escapeControl(`${g.group}: workload ${w.state.value} (${w.state.setBy}${w.state.expiresAt === null ? '' : ` until ${w.state.expiresAt}`}); ${seq}${kill}`));
      }
      if (g.lastError !== null) {
        const kind = g.lastError.retryable === undefined ? '' : g.lastError.retryable ? ' (retryable: the next tick tries again)' : ' (not retryable: needs a fix)';
        io.out(escapeControl(`${g.group}: last tick failed at ${g.lastError.at}${kind}: ${g.lastError.message}`));
      }
      if (g.problems.length === 0) continue;
      io.out(`\n${g.group}: ${g.problems.length} problem(s) — input left alone until fixed:`);
      io.out(table(['since', 'source', 'subject', 'field', 'value', 'reason'], g.problems.map((p) => [p.since, p.source, p.subject, p.field, JSON.stringify(p.value), p.reason])));
    }
    return EXIT.ok;
  },
};

const history: Command = {
  name: 'history',
  summary: 'past transitions, commands, windows and retries, newest first',
  help: `Usage: fleetwarden history [--group NAME] [--instance ID] [--type T[,T…]] [--from ISO] [--to ISO] [--limit N] [--before ID] [--json] [--url URL] ...

Prints the append-only history, newest first, --limit entries (default 50, at most 1000) at a time; --before ID
pages on (the JSON's "next" is the ID to give). --type keeps only entries of these types (repeat it or separate
with commas): ${HISTORY_TYPES.join(', ')}.
--from and --to keep those at or after --from and before --to (ISO instants).

${TARGET_HELP}`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { ...TARGET_OPTIONS, group: { type: 'string' }, instance: { type: 'string' }, type: { type: 'string', multiple: true }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' }, json: { type: 'boolean' } }, false);
    const before = intOption(values.before, '--before', 1, Number.MAX_SAFE_INTEGER);
    const limit = intOption(values.limit, '--limit', 1, 1000) ?? 50;
    if (values.instance !== undefined) checkInstanceId(values.instance, '--instance');
    const filters = historyFilters({ types: values.type ?? [], from: values.from, to: values.to }, { type: '--type', from: '--from', to: '--to' });
    const q = new URLSearchParams({ limit: String(limit), ...(values.group === undefined ? {} : { group: values.group }), ...(values.instance === undefined ? {} : { instance: values.instance }), ...(before === undefined ? {} : { before: String(before) }) });
    for (const t of filters.types ?? []) q.append('type', t);
    if (filters.from !== undefined) q.set('from', formatInstant(filters.from));
    if (filters.to !== undefined) q.set('to', formatInstant(filters.to));
    const view = await viaApiOrStore(
      values,
      (api) => api.call('GET', `/v1/history?${q.toString()}`, wire.historyJson),
      (store) => historyView(store, { group: values.group, instanceId: values.instance, ...filters, before, limit }),
    );
    if (values.json === true) {
      io.out(JSON.stringify(view));
      return EXIT.ok;
    }
    io.out(table(['id', 'at', 'group', 'instance', 'type', 'what'], view.entries.map((e) => [String(e.id), e.at, e.group, e.instance ?? '', e.type, e.summary])));
    if (view.next !== null && view.entries.length === limit) io.out(`(more: --before ${view.next})`);
    return EXIT.ok;
  },
};

const windows: Command = {
  name: 'windows',
  summary: 'upcoming maintenance-window periods of every group',
  help: `Usage: fleetwarden windows [--config FILE] [--state-dir DIR] [--group NAME] [--from ISO] [--days N] [--json]

Lists the window periods of each group (file-declared windows, and the SSM windows the configured provider
discovers when ssm.discovery is on — SSM itself with provider aws, the simulator's otherwise) from --from
(default now: the simulated instant of the world with the simulator) for --days days (default 7), with the
instant each becomes active (start − startAhead).

  --config FILE     configuration file (default ${DEFAULT_CONFIG})
  --state-dir DIR   where the simulated world lives, for its clock (default ${DEFAULT_STATE_DIR}/)`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { config: { type: 'string' }, 'state-dir': { type: 'string' }, group: { type: 'string' }, from: { type: 'string' }, days: { type: 'string' }, json: { type: 'boolean' } }, false);
    const config = loadConfigFile(values.config ?? DEFAULT_CONFIG);
    const from = values.from === undefined ? worldClock(config, values['state-dir'] ?? DEFAULT_STATE_DIR).now() : parseInstant(values.from, '--from');
    const to = from + (intOption(values.days, '--days', 1, 366) ?? 7) * 86_400_000;
    const ssm: SsmWindowInfo[] = await ssmWindowsOf(config, { now: () => from })();
    if (values.group !== undefined) findGroup(config, values.group, '--group');
    const view = windowsView(config, from, to, values.group, ssm);
    if (values.json === true) {
      io.out(JSON.stringify(view));
      return EXIT.ok;
    }
    io.out(view.periods.length === 0 ? 'No window periods in that range.' : table(['group', 'window', 'active from', 'start', 'end', 'description'], view.periods.map((r) => [r.group, r.window, r.activeFrom, r.start, r.end, r.description ?? ''])));
    for (const w of view.warnings) io.err(`warning: ${escapeControl(w)}`);
    return EXIT.ok;
  },
};

export const controllerCommands: readonly Command[] = [run, simulateCmd, status, history, windows];
