/**
 * `fleetwarden agent` (and the single-file `fleetwarden-agent.mjs`): options from the command line over a
 * configuration file, identity, the polling loop, systemd unit generation. Imports nothing of the controller, so
 * the single-file build stays small.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Preset } from '../domain/naming.js';
import { isLifecycleState, LIFECYCLE_STATES, type LifecycleState } from '../domain/lifecycle.js';
import { Agent } from './agent.js';
import { type AgentAuth, IamAuth, StaticToken, TokenFileAuth } from './auth.js';
import { HealthAnswer } from './health.js';
import { DrainFirewall, parsePorts } from './firewall.js';
import { imdsInstanceId } from './identity.js';
import { AgentLog, AgentUsageError, parseRotate } from './log.js';
import { FileJournal, runScript } from './scripts.js';

/** Between a long poll's answer and the next poll: no tight loop against a controller that answers at once. */
const LONG_POLL_GAP_MS = 50;

export const DEFAULT_AGENT_CONFIG = '/etc/fleetwarden/agent.yaml';
/** The seed watcher's configuration file, read first when the agent runs as `cs-instance-watcher`. */
export const WATCHER_CONFIG = '/etc/cs-instance-watcher.json';

/**
 * The name the agent runs under. `cs-instance-watcher` (a copy of, or a link to, the agent under that name, or the
 * package's bin of that name) is the seed's watcher: preset clonesquad, its configuration file, its unit description.
 */
export type AgentEntry = 'fleetwarden' | 'cs-instance-watcher';

export function entryOf(argv1: string | undefined): AgentEntry {
  return /^cs-instance-watcher(\.m?js)?$/.test(basename(argv1 ?? '')) ? 'cs-instance-watcher' : 'fleetwarden';
}

export const AGENT_HELP = `Usage: fleetwarden agent [--api-url URL] [options]
       cs-instance-watcher [options]   (the same agent under the seed watcher's name: preset clonesquad)

Runs on each instance: polls the controller for this instance's lifecycle state and, while it is draining,
refuses new TCP connections to the listed ports (established ones continue), runs per-state scripts, and runs
the event scripts and bypass checks the controller queues for it (controller.eventDelivery: agent).

  --api-url URL                the controller's API, e.g. http://fleetwarden.internal:8080 (or api-url in --config)
  --api-polling-period SECONDS time between polls (default 10; decimals allowed, at least 0.2): the fallback when
                               the controller cannot hold a poll (--long-poll), and after an error
  --long-poll SECONDS          a poll waits at the controller up to this long for a change, so a change reaches the
                               agent at once (default 25; 0: plain polls every --api-polling-period)
  --health-port PORT           serve the health answer for the load balancer's health check here: 200 "ok" while
                               in service, 503 "draining" while being taken out — before the ports are blocked, so
                               the load balancer stops routing first (docs/agent.md#health-answer)
  --health-check-url URL       while in service, answer with this local app URL's status (http only), e.g.
                               http://127.0.0.1:8080/health
  --health-file FILE           the same answer as a file: present while in service, removed while being taken out
  --on-draining-block-new-connections-to-ports PORT [PORT...]
                               while draining, reject new TCP connections to these ports with a reset (IPv4 and
                               IPv6, chain FLEETWARDEN-DRAIN; needs root and iptables)
  --force [BOOL]               block the ports even when the instance is in target groups outside a subfleet (by
                               default the load balancer's deregistration drains it and the ports stay open)
  --instance-state STATE       act as if the instance were in STATE (ports, state scripts), whatever the controller
                               says: for testing scripts and port blocking
  --stale-context-timeout SECONDS
                               how long instance context is cached before it is fetched again: the token file, the
                               IAM login's "not managed" or refusal answer (default 300)
  --script-dir DIR             on a state change, run DIR/<state>/* with <new> <old> (default: the preset's,
                               /etc/fleetwarden/agent.d, or /etc/cs-instance-watcher.d with clonesquad)
  --script-timeout SECONDS     time limit of each state script (default 30)
  --event-dir DIR              event scripts DIR/<event> (default: the preset's, /etc/fleetwarden/events, or
                               /etc/cs-ssm with clonesquad): exit 0 = success; other exits, not executable, or the
                               event's time limit = failure; absent = success
  --preset fleetwarden|clonesquad
                               the directories' naming (default: the controller's preset, told in its answers;
                               clonesquad when run as cs-instance-watcher)
  --auth auto|token|iam        how the agent proves who it is (default auto: the token when there is one, else
                               the instance's IAM role)
  --token-file FILE            the agent token (default /etc/fleetwarden/agent-token; or FLEETWARDEN_AGENT_TOKEN);
                               issue one with 'fleetwarden token issue --instance ID'
  --server-id ID               the controller's controller.agentIam.serverId, signed into the IAM login (default:
                               the HOST[:PORT] of --api-url)
  --sts-endpoint URL           the STS endpoint the IAM login is signed for (default: the instance region's)
  --sts-region REGION          its signing region (default: from the endpoint, else the instance's region)
  --instance-id ID             this instance (default: read from the EC2 metadata service, IMDSv2)
  --imds-endpoint URL          metadata service (default http://169.254.169.254, or AWS_EC2_METADATA_SERVICE_ENDPOINT)
  --state-dir DIR              the journal of maintenance scripts in progress (default /var/lib/fleetwarden-agent)
  --reboot-command CMD         how a maintenance script's exit 194 reboots (default "systemctl reboot"; words
                               split on spaces, run without a shell)
  --log-file FILE              log here instead of stderr
  --log-file-rotate SPEC       when,interval,backups with when s|m|h|d|w (default d,1,7: daily, keep 7)
  --config FILE                options as YAML/JSON keys named like the flags (- or _) (default ${DEFAULT_AGENT_CONFIG};
                               as cs-instance-watcher ${WATCHER_CONFIG} first; read when it exists); flags win
  --generate-systemd FILE      write a systemd unit that runs the agent with these options, and exit
  --do-not-generate-systemd [X]
                               ignore --generate-systemd: run the agent
  --once                       one poll (and the commands it starts), then exit

Drain hooks: when maintenance takes the instance out of service (after the ports are blocked), the agent runs
<script-dir>/take-out/* with "take-out maintenance"; when it is put back (ports open again), put-back/*. Use them
to tell the app to close idle keep-alive connections (e.g. answer with "Connection: close" from then on).

When the controller cannot be reached, the last known state is kept and the firewall is not changed. An instance
the controller does not manage (IAM login: "not managed") idles, and asks again every --stale-context-timeout.`;

export type AgentAuthMode = 'auto' | 'token' | 'iam';

export interface AgentSettings {
  readonly entry: AgentEntry;
  readonly apiUrl: string;
  readonly tokenFile: string;
  readonly instanceId: string | undefined;
  readonly imdsEndpoint: string;
  readonly pollMs: number;
  readonly ports: number[];
  /** undefined: the preset's directory, decided when the controller has answered. */
  readonly scriptDir: string | undefined;
  readonly scriptTimeoutMs: number;
  readonly eventDir: string | undefined;
  readonly logFile: string | undefined;
  readonly logRotate: string;
  readonly generateSystemd: string | undefined;
  readonly doNotGenerateSystemd: boolean;
  readonly once: boolean;
  readonly config: string | undefined;
  readonly stateDir: string;
  readonly rebootCommand: string[];
  readonly instanceState: LifecycleState | undefined;
  readonly staleContextMs: number;
  readonly force: boolean;
  /** A preset the agent keeps whatever the controller says (--preset, or the cs-instance-watcher name). */
  readonly preset: Preset | undefined;
  readonly auth: AgentAuthMode;
  readonly serverId: string;
  readonly stsEndpoint: string | undefined;
  readonly stsRegion: string | undefined;
  readonly longPollSeconds: number;
  readonly healthPort: number | undefined;
  readonly healthFile: string | undefined;
  readonly healthCheckUrl: string | undefined;
}

const STRING_FLAGS = ['api-url', 'token-file', 'instance-id', 'imds-endpoint', 'api-polling-period', 'script-dir', 'script-timeout', 'event-dir', 'log-file', 'log-file-rotate', 'config', 'generate-systemd', 'state-dir', 'reboot-command', 'instance-state', 'stale-context-timeout', 'preset', 'auth', 'server-id', 'sts-endpoint', 'sts-region', 'long-poll', 'health-port', 'health-file', 'health-check-url'] as const;
const PORTS_FLAG = 'on-draining-block-new-connections-to-ports';
/** Not in a configuration file: they say what to do with this command line. */
const COMMAND_LINE_ONLY = new Set(['config', 'generate-systemd', 'do-not-generate-systemd']);

type Raw = Partial<Record<(typeof STRING_FLAGS)[number], string>> & { ports?: string[]; once?: boolean; force?: boolean; 'do-not-generate-systemd'?: boolean };

/** As the seed's `--force [FORCE]`: alone it means yes. */
function parseBool(value: string, field: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(v)) return true;
  if (['false', 'no', 'off', '0'].includes(v)) return false;
  throw new AgentUsageError(field, `expected true or false, got ${JSON.stringify(value)}`);
}

/**
 * Parses argv; the ports flag takes every following value up to the next flag (`--…-ports 80 443`), or `80,443`.
 * `--force` and `--do-not-generate-systemd` take a value only when one follows (the seed's `nargs='?'`).
 */
export function parseAgentArgs(argv: readonly string[]): Raw {
  const out: Raw = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') ? [arg.slice(2).split('=')[0] ?? '', arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined] : ['', undefined];
    const optionalValue = (): string | undefined => inline ?? (i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('-') ? argv[++i] : undefined);
    if (flag === PORTS_FLAG) {
      const ports: string[] = inline === undefined ? [] : [inline];
      while (inline === undefined && i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('-')) ports.push(argv[++i] ?? '');
      out.ports = [...(out.ports ?? []), ...ports.flatMap((p) => p.split(','))];
      if (out.ports.length === 0) throw new AgentUsageError(`--${PORTS_FLAG}`, 'needs at least one port');
    } else if (flag === 'once') {
      out.once = true;
    } else if (flag === 'force') {
      const v = optionalValue();
      out.force = v === undefined ? true : parseBool(v, '--force');
    } else if (flag === 'do-not-generate-systemd') {
      optionalValue(); // the seed's watcher took (and ignored) a value
      out['do-not-generate-systemd'] = true;
    } else if ((STRING_FLAGS as readonly string[]).includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new AgentUsageError(`--${flag}`, 'needs a value');
      out[flag as (typeof STRING_FLAGS)[number]] = value;
    } else {
      throw new AgentUsageError(arg, `unknown option; run 'fleetwarden agent --help'`);
    }
  }
  return out;
}

/**
 * Reads the configuration file: keys named like the flags, with - or _ (the seed watcher's JSON used
 * api_polling_period); unknown keys are refused by name.
 */
export function readAgentConfig(file: string): Raw {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AgentUsageError(file, `cannot read the agent configuration: ${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AgentUsageError(file, 'expected a mapping of option: value');
  const out: Raw = {};
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    const k = key.replace(/_/g, '-');
    if (k === PORTS_FLAG) {
      const list = Array.isArray(v) ? v : [v];
      out.ports = list.map((p) => String(p));
    } else if (k === 'once') {
      out.once = v === true;
    } else if (k === 'force') {
      if (typeof v === 'boolean') out.force = v;
      else if (typeof v === 'string') out.force = parseBool(v, `${file}: ${key}`);
      else throw new AgentUsageError(`${file}: ${key}`, 'expected true or false');
    } else if ((STRING_FLAGS as readonly string[]).includes(k) && !COMMAND_LINE_ONLY.has(k)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new AgentUsageError(`${file}: ${key}`, 'expected a string or a number');
      out[k as (typeof STRING_FLAGS)[number]] = String(v);
    } else {
      throw new AgentUsageError(`${file}: ${key}`, 'unknown option');
    }
  }
  return out;
}

function seconds(raw: string | undefined, field: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(n) || n < min || n > 86_400) throw new AgentUsageError(field, `expected seconds from ${min} to 86400, got ${JSON.stringify(raw)}`);
  return Math.round(n * 1000);
}

function httpUrl(raw: string | undefined, field: string, example: string): string | undefined {
  if (raw !== undefined && !/^https?:\/\/[^\s/]+/.test(raw)) throw new AgentUsageError(field, `expected http(s)://HOST[:PORT], e.g. ${example}, got ${JSON.stringify(raw)}`);
  return raw;
}

export function agentSettings(argv: readonly string[], entry: AgentEntry = 'fleetwarden'): AgentSettings {
  const flags = parseAgentArgs(argv);
  const defaults = entry === 'cs-instance-watcher' ? [WATCHER_CONFIG, DEFAULT_AGENT_CONFIG] : [DEFAULT_AGENT_CONFIG];
  const configFile = flags.config ?? defaults.find((f) => existsSync(f));
  if (flags.config !== undefined && !existsSync(flags.config)) throw new AgentUsageError('--config', `no file ${flags.config}`);
  const raw: Raw = { ...(configFile === undefined ? {} : readAgentConfig(configFile)), ...flags };
  const generating = raw['generate-systemd'] !== undefined && raw['do-not-generate-systemd'] !== true;
  const apiUrl = httpUrl(raw['api-url'], '--api-url', 'http://fleetwarden.internal:8080');
  if (!generating && apiUrl === undefined) throw new AgentUsageError('--api-url', `is required, e.g. --api-url http://fleetwarden.internal:8080 (or api-url: in ${configFile ?? defaults.join(' or ')})`);
  const instanceId = raw['instance-id'];
  if (instanceId !== undefined && !/^i-[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(instanceId)) throw new AgentUsageError('--instance-id', `expected an instance id such as i-0123456789abcdef0, got ${JSON.stringify(instanceId)}`);
  const logRotate = raw['log-file-rotate'] ?? 'd,1,7';
  parseRotate(logRotate);
  let ports: number[];
  try {
    ports = raw.ports === undefined ? [] : parsePorts(raw.ports);
  } catch (err) {
    throw new AgentUsageError(`--${PORTS_FLAG}`, err instanceof Error ? err.message.replace(/^[^:]*: /, '') : String(err));
  }
  const instanceState = raw['instance-state'];
  if (instanceState !== undefined && !isLifecycleState(instanceState)) throw new AgentUsageError('--instance-state', `expected one of ${LIFECYCLE_STATES.join(', ')}, got ${JSON.stringify(instanceState)}`);
  const preset = raw.preset ?? (entry === 'cs-instance-watcher' ? 'clonesquad' : undefined);
  if (preset !== undefined && preset !== 'fleetwarden' && preset !== 'clonesquad') throw new AgentUsageError('--preset', `expected fleetwarden or clonesquad, got ${JSON.stringify(preset)}`);
  // An explicit --token-file means the token: its absence is then an error, not a silent switch to IAM.
  const auth = raw.auth ?? (raw['token-file'] !== undefined ? 'token' : 'auto');
  if (auth !== 'auto' && auth !== 'token' && auth !== 'iam') throw new AgentUsageError('--auth', `expected auto, token or iam, got ${JSON.stringify(auth)}`);
  const serverId = raw['server-id'] ?? (apiUrl === undefined ? '' : new URL(apiUrl).host);
  if (raw['server-id'] !== undefined && !/^[\x21-\x7e]{1,200}$/.test(serverId)) throw new AgentUsageError('--server-id', 'expected 1-200 printable characters without spaces');
  const stsEndpoint = httpUrl(raw['sts-endpoint'], '--sts-endpoint', 'https://sts.eu-west-1.amazonaws.com');
  const stsRegion = raw['sts-region'];
  if (stsRegion !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(stsRegion)) throw new AgentUsageError('--sts-region', `expected a region such as eu-west-1, got ${JSON.stringify(stsRegion)}`);
  const longPoll = raw['long-poll'] ?? '25';
  if (!/^\d{1,2}$/.test(longPoll.trim()) || Number(longPoll) > 55) throw new AgentUsageError('--long-poll', `expected whole seconds from 0 to 55, got ${JSON.stringify(longPoll)}`);
  const healthPortRaw = raw['health-port'];
  if (healthPortRaw !== undefined && (!/^\d{1,5}$/.test(healthPortRaw.trim()) || Number(healthPortRaw) < 1 || Number(healthPortRaw) > 65535)) throw new AgentUsageError('--health-port', `"${healthPortRaw}" is not a TCP port (1-65535)`);
  const healthPort = healthPortRaw === undefined ? undefined : Number(healthPortRaw);
  if (healthPort !== undefined && ports.includes(healthPort)) throw new AgentUsageError('--health-port', `${healthPort} is also among the ports blocked while draining: the load balancer could not read the failing answer; give the health answer a port of its own`);
  const healthCheckUrl = raw['health-check-url'];
  if (healthCheckUrl !== undefined && !/^http:\/\/[^\s/]+(\/\S*)?$/.test(healthCheckUrl)) throw new AgentUsageError('--health-check-url', `expected http://HOST[:PORT]/PATH, e.g. http://127.0.0.1:8080/health, got ${JSON.stringify(healthCheckUrl)}`);
  if (healthCheckUrl !== undefined && healthPort === undefined) throw new AgentUsageError('--health-check-url', 'only applies with --health-port');
  return {
    entry,
    apiUrl: apiUrl ?? '',
    tokenFile: raw['token-file'] ?? '/etc/fleetwarden/agent-token',
    instanceId,
    imdsEndpoint: raw['imds-endpoint'] ?? process.env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] ?? 'http://169.254.169.254',
    pollMs: seconds(raw['api-polling-period'], '--api-polling-period', 10_000, 0.2),
    ports,
    scriptDir: raw['script-dir'],
    scriptTimeoutMs: seconds(raw['script-timeout'], '--script-timeout', 30_000, 1),
    eventDir: raw['event-dir'],
    logFile: raw['log-file'],
    logRotate,
    generateSystemd: generating ? raw['generate-systemd'] : undefined,
    doNotGenerateSystemd: raw['do-not-generate-systemd'] === true,
    once: raw.once === true,
    config: configFile,
    stateDir: raw['state-dir'] ?? '/var/lib/fleetwarden-agent',
    rebootCommand: (raw['reboot-command'] ?? 'systemctl reboot').split(/\s+/).filter((w) => w !== ''),
    instanceState,
    staleContextMs: seconds(raw['stale-context-timeout'], '--stale-context-timeout', 300_000, 1),
    force: raw.force === true,
    preset,
    auth,
    serverId,
    stsEndpoint,
    stsRegion,
    longPollSeconds: Number(longPoll),
    healthPort,
    healthFile: raw['health-file'],
    healthCheckUrl,
  };
}

/** One ExecStart argument, quoted for systemd: `"` and `\` escaped, `%` and `$` doubled. */
export function systemdQuote(arg: string): string {
  const escaped = arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? escaped : `"${escaped}"`;
}

/** The unit: the same program and options minus --generate-systemd; restarts always. */
export function systemdUnit(argv: readonly string[], program: readonly string[], entry: AgentEntry = 'fleetwarden'): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--generate-systemd') {
      i++;
      continue;
    }
    if (a.startsWith('--generate-systemd=') || a === '--once') continue;
    kept.push(a);
  }
  return [
    '[Unit]',
    `Description=${entry === 'cs-instance-watcher' ? 'cs-instance-watcher (Fleetwarden agent)' : 'Fleetwarden agent'}: drain-aware port blocking and in-instance scripts`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${[...program, ...kept].map(systemdQuote).join(' ')}`,
    'Restart=always',
    'RestartSec=5',
    // The firewall needs root; nothing else is needed from the environment.
    'User=root',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export interface AgentIo {
  out(text: string): void;
  err(text: string): void;
}

/** How the agent proves who it is: an operator's token when there is one (or --auth token), else the IAM role. */
function chooseAuth(settings: AgentSettings, instanceId: string, now: () => number): AgentAuth | string {
  const envToken = process.env['FLEETWARDEN_AGENT_TOKEN'];
  const hasFile = existsSync(settings.tokenFile);
  if (settings.auth === 'token' || (settings.auth === 'auto' && (envToken !== undefined || hasFile))) {
    if (envToken !== undefined && envToken.trim() !== '') return new StaticToken(envToken.trim());
    if (!hasFile || readFileSync(settings.tokenFile, 'utf8').trim() === '') return `--token-file: no agent token in ${settings.tokenFile} (nor FLEETWARDEN_AGENT_TOKEN); issue one with 'fleetwarden token issue --instance ID', or use the instance's IAM role (--auth iam)`;
    return new TokenFileAuth(settings.tokenFile, settings.staleContextMs, now);
  }
  return new IamAuth({ apiUrl: settings.apiUrl, imdsEndpoint: settings.imdsEndpoint, serverId: settings.serverId, stsEndpoint: settings.stsEndpoint, stsRegion: settings.stsRegion, staleContextMs: settings.staleContextMs, now, instanceId });
}

/** Runs the agent; resolves with the exit code (0 after SIGTERM/SIGINT or --once). */
export async function runAgent(argv: readonly string[], io: AgentIo, program: readonly string[], entry: AgentEntry = 'fleetwarden'): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(AGENT_HELP);
    return 0;
  }
  let settings: AgentSettings;
  try {
    settings = agentSettings(argv, entry);
  } catch (err) {
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (settings.generateSystemd !== undefined) {
    const file = resolve(settings.generateSystemd);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, systemdUnit(argv, program, entry), { mode: 0o644 });
    io.out(`wrote ${file}; then: systemctl daemon-reload && systemctl enable --now ${file.split('/').pop() ?? ''}`);
    return 0;
  }
  const now = (): number => Date.now();
  const log = new AgentLog(settings.logFile ?? null, parseRotate(settings.logRotate), now);
  let instanceId = settings.instanceId;
  if (instanceId === undefined) {
    try {
      instanceId = await imdsInstanceId(settings.imdsEndpoint);
    } catch (err) {
      io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
  }
  const auth = chooseAuth(settings, instanceId, now);
  if (typeof auth === 'string') {
    io.err(`error: ${auth}`);
    return 2;
  }
  const firewall = settings.ports.length > 0 ? new DrainFirewall(settings.ports) : null;
  const health = new HealthAnswer({ port: settings.healthPort, file: settings.healthFile, upstream: settings.healthCheckUrl });
  try {
    await health.start();
  } catch (err) {
    io.err(`error: --health-port/--health-file: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const [rebootProgram = 'systemctl', ...rebootArgs] = settings.rebootCommand;
  const agent = new Agent({
    apiUrl: settings.apiUrl,
    auth,
    instanceId,
    firewall,
    scriptDir: settings.scriptDir,
    eventDir: settings.eventDir,
    preset: settings.preset,
    forcedState: settings.instanceState,
    force: settings.force,
    scriptTimeoutMs: settings.scriptTimeoutMs,
    log,
    journal: new FileJournal(join(settings.stateDir, 'journal.json')),
    reboot: async () => {
      const r = await runScript(rebootProgram, rebootArgs, 60_000);
      if (r.exitCode !== 0) throw new Error(`reboot command ${settings.rebootCommand.join(' ')} failed: exit ${r.exitCode ?? 'signal'} ${r.output}`);
    },
    health,
    longPollSeconds: settings.once ? 0 : settings.longPollSeconds,
  });
  const how = auth instanceof IamAuth ? `IAM role (server id ${settings.serverId})` : 'agent token';
  log.info(`agent${entry === 'cs-instance-watcher' ? ' (cs-instance-watcher)' : ''} for ${instanceId}: polling ${settings.apiUrl} every ${settings.pollMs / 1000}s with its ${how}${settings.ports.length > 0 ? `; blocking ports ${settings.ports.join(', ')} while draining${settings.force ? ' (--force: also behind target groups)' : ''}` : ''}${settings.preset === undefined ? '' : `; preset ${settings.preset}`}${settings.instanceState === undefined ? '' : `; state forced to ${settings.instanceState}`}${settings.config === undefined ? '' : `; configuration ${settings.config}`}`);
  const signal = { stopping: false, wake: null as (() => void) | null };
  const stop = (): void => {
    signal.stopping = true;
    agent.stop();
    signal.wake?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    do {
      const started = Date.now();
      const outcome = await agent.poll();
      if (settings.once) break;
      // A long poll makes the controller do the waiting: ask again at once (a short pause keeps a controller that
      // answers at once from being asked in a tight loop); otherwise wait out the polling period.
      const period = outcome.longPoll ? LONG_POLL_GAP_MS : settings.pollMs;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(0, period - (Date.now() - started)));
        signal.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    } while (!signal.stopping);
    await agent.idle();
  } finally {
    health.close();
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGINT', stop);
  }
  log.info('agent stopped; the firewall rules are left as they are');
  return 0;
}
