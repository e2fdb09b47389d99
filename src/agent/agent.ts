/**
 * The on-instance agent (docs/agent.md): polls the controller for its instance's lifecycle state, blocks
 * new connections to the listed ports while draining, runs per-state scripts on a change, and runs the commands
 * the controller queued for it (events, bypass checks, maintenance scripts) and posts their results; a maintenance
 * script the controller cancels is killed with its process group (or never started) and reported `cancelled`.
 *
 * When the controller cannot be reached, the last known state is kept — the firewall is never changed on a guess,
 * and before any state is known it is not touched at all (a restarted agent leaves the rules it finds). Every answer
 * is checked first (view.ts): an unknown state or event is logged and ignored, never turned into a script path.
 */
import { namingFor, type Preset } from '../domain/naming.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import { type AgentAuth, StaticToken } from './auth.js';
import type { Logger } from './log.js';
import type { AckHealth, AckPorts, AgentGoal } from '../domain/agent-ack.js';
import type { HealthAnswer } from './health.js';
import { checkBypassFile, type Hook, runEventScript, runScript, stateScripts } from './scripts.js';
import { type CheckedView, checkView } from './view.js';
import { type HttpAnswer, httpFetch } from './http.js';

export interface AgentCommand {
  readonly id: string;
  readonly kind: 'event' | 'bypass' | 'script';
  readonly event?: string;
  readonly args: readonly string[];
  readonly path?: string;
  readonly script?: string;
  readonly mayRerun?: boolean;
  /** Commands of the same delivery this one replaces (the controller's retries): run once for all of them. */
  readonly replaces?: readonly string[];
  readonly timeoutMs: number;
  /** The controller asks for the command to stop (a maintenance script). */
  readonly cancel?: boolean;
}

/** Maintenance scripts in progress, kept on disk so a reboot (exit 194) or a crash is told apart afterwards. */
export interface Journal {
  get(id: string): { readonly state: 'running' | 'reboot'; readonly reboots: number } | undefined;
  set(id: string, entry: { readonly state: 'running' | 'reboot'; readonly reboots: number }): void;
  delete(id: string): void;
}

/** Exit code with which a maintenance script asks for a reboot and a second run (as SSM's). */
export const REBOOT_EXIT = 194;

/** What the agent needs of the firewall (DrainFirewall, or a recorder in tests). */
export interface Firewall {
  /** Makes the rules match; returns the commands that changed something (none when already right). */
  reconcile(draining: boolean): Promise<{ readonly changes: readonly (readonly string[])[] }>;
}

export interface AgentOptions {
  readonly apiUrl: string;
  /** An operator's token (`--token-file`), or `auth` (the IAM role). */
  readonly token?: string;
  readonly auth?: AgentAuth;
  readonly instanceId: string;
  readonly firewall: Firewall | null;
  /** Given: always these. Absent: the preset's (`preset`, else the controller's, else fleetwarden's). */
  readonly scriptDir?: string | undefined;
  readonly eventDir?: string | undefined;
  /** A preset the agent was told (--preset, or started as cs-instance-watcher): wins over the controller's. */
  readonly preset?: Preset | undefined;
  /** --instance-state: act as if the instance were in this state (ports and state scripts), whatever the controller says. */
  readonly forcedState?: LifecycleState | undefined;
  /** --force: with the clonesquad preset, block the ports even in target groups outside a subfleet (the load balancer drains it otherwise). */
  readonly force?: boolean;
  readonly scriptTimeoutMs: number;
  readonly log: Logger;
  readonly fetchTimeoutMs?: number;
  readonly journal?: Journal;
  /** Reboots the machine (exit 194); the agent is started again by systemd and runs the script once more. */
  readonly reboot?: () => Promise<void>;
  /** The health answer a load balancer checks (--health-port, --health-file); absent: none. */
  readonly health?: HealthAnswer | null;
  /** Seconds a poll may wait at the controller for a change (a long poll); 0: plain polls only. */
  readonly longPollSeconds?: number;
}

/** What one poll did, for the polling loop. */
export interface PollOutcome {
  /** The next poll will wait at the controller for a change (a long poll): it may start at once. */
  readonly longPoll: boolean;
}

export class Agent {
  private readonly o: AgentOptions;
  /** The last state the controller told; null until the first answer. */
  state: string | null = null;
  /** Whether the ports are to be blocked, as last told. */
  private drain: boolean | null = null;
  private reachable: boolean | null = null;
  private readonly running = new Set<string>();
  /** Maintenance scripts running now, stopped through these when the controller cancels them. */
  private readonly aborts = new Map<string, AbortController>();
  /** Results not yet accepted by the controller: posted again, never run again. */
  private readonly unposted = new Map<string, { outcome: string; exitCode: number | null; output: string; reboots?: number }>();
  private readonly done = new Set<string>();
  private scriptChain: Promise<void> = Promise.resolve();
  private readonly background = new Set<Promise<unknown>>();
  private readonly reported = new Set<string>();
  private readonly auth: AgentAuth;
  /** The bearer token of this poll. */
  private token = '';
  /** Why the agent idles (not managed, no identity), while it does; logged when it begins and ends. */
  private idling: string | null = null;
  /** The controller's preset, from its last answer. */
  private controllerPreset: Preset | undefined;
  /** In target groups outside a subfleet, without --force: the ports are left open (the load balancer drains). */
  private standAside = false;
  /** The controller's goal (drain handshake), from its last answer; null from a controller that predates it. */
  private goal: AgentGoal | null = null;
  /** The last view's version: the next poll waits at the controller for another one. */
  private viewVersion: string | undefined;
  /** What the firewall rules are known to be (after a reconcile that succeeded); null: unknown. */
  private appliedBlock: boolean | null = null;
  /** Out of service for maintenance, as last told; and whether the current block is maintenance's. */
  private maintenance = false;
  private blockedForMaintenance = false;
  private hookChain: Promise<void> = Promise.resolve();
  private readonly hookOutcomes: { name: string; outcome: string }[] = [];
  private readonly stopping = new AbortController();

  constructor(options: AgentOptions) {
    this.o = options;
    this.auth = options.auth ?? new StaticToken(options.token ?? '');
  }

  /** The preset in force: told to the agent, else the controller's, else fleetwarden's. */
  get preset(): Preset {
    return this.o.preset ?? this.controllerPreset ?? 'fleetwarden';
  }

  get scriptDir(): string {
    return this.o.scriptDir ?? namingFor(this.preset).stateScriptDir;
  }

  get eventDir(): string {
    return this.o.eventDir ?? namingFor(this.preset).eventDir;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown, extraMs = 0): Promise<HttpAnswer> {
    return httpFetch(`${this.o.apiUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      // A long poll in flight ends at once when the agent stops (SIGTERM), not when the controller answers.
      signal: AbortSignal.any([AbortSignal.timeout((this.o.fetchTimeoutMs ?? 5000) + extraMs), this.stopping.signal]),
    });
  }

  private unreachable(why: string): void {
    if (this.reachable !== false) this.o.log.error(`controller unreachable (${why}); keeping the last known state ${this.state ?? '(none yet: firewall left as it is)'}`);
    this.reachable = false;
  }

  /** --instance-state: the forced state applies from the first poll, whatever the controller says or whether it answers. */
  private applyForcedState(): void {
    const forced = this.o.forcedState;
    if (forced === undefined || this.state === forced) return;
    const old = this.state;
    this.state = forced;
    this.drain = forced === 'draining';
    this.o.log.info(`state ${old ?? '(unknown)'} → ${forced} (forced by --instance-state; the controller's state is ignored)`);
    this.queueStateScripts(forced, old ?? 'unknown');
  }

  /**
   * One poll: read the state (waiting at the controller for a change when it can), apply the goal — health answer,
   * firewall, hooks — report what is applied, start scripts and commands. Never throws.
   */
  async poll(): Promise<PollOutcome> {
    const waitS = this.o.longPollSeconds ?? 0;
    await this.pollOnce(this.viewVersion !== undefined ? waitS : 0);
    // A controller that answered with a version can hold the next poll; after an error, the polling period.
    return { longPoll: waitS > 0 && this.viewVersion !== undefined && this.reachable === true };
  }

  private async pollOnce(waitS: number): Promise<void> {
    this.applyForcedState();
    let raw: unknown;
    try {
      const auth = await this.auth.current();
      if ('idle' in auth) {
        if (this.idling !== auth.idle) this.o.log.info(`${auth.idle}; asking again later`);
        this.idling = auth.idle;
        await this.keepFirewall();
        return;
      }
      if (this.idling !== null) this.o.log.info('no longer idle: the controller accepted this instance');
      this.idling = null;
      this.token = auth.token;
      const query = waitS > 0 && this.viewVersion !== undefined ? `?wait=${waitS}&since=${encodeURIComponent(this.viewVersion)}` : '';
      const r = await this.request('GET', `/v1/instances/${encodeURIComponent(this.o.instanceId)}${query}`, undefined, waitS * 1000);
      if (!r.ok) {
        const text = (await r.text()).slice(0, 300);
        if (r.status === 401) this.auth.refused(auth.token);
        this.unreachable(`HTTP ${r.status}${r.status === 401 || r.status === 403 ? ': check the agent token' : ''}${r.status === 404 ? ': the controller does not manage this instance (yet)' : ''} ${text}`);
        await this.keepFirewall();
        return;
      }
      raw = await r.json();
    } catch (err) {
      this.unreachable(err instanceof Error ? ((err.cause as { code?: string; message?: string } | undefined)?.code ?? (err.cause as { message?: string } | undefined)?.message ?? err.message) : String(err));
      await this.keepFirewall();
      return;
    }
    if (this.reachable === false) this.o.log.info('controller reachable again');
    this.reachable = true;
    const view = checkView(raw);
    this.report(view.refused);
    if (view.preset !== undefined && view.preset !== this.controllerPreset) {
      this.controllerPreset = view.preset;
      this.o.log.info(`preset ${view.preset}${this.o.preset === undefined ? '' : ` (this agent keeps ${this.o.preset})`}: state scripts in ${this.scriptDir}, event scripts in ${this.eventDir}`);
    }
    // The seed watcher's rule (behind a target group the load balancer drains, so the ports stay open unless --force)
    // applies to those moving over from it (preset clonesquad); Fleetwarden's own agents always follow the state.
    const standAside = view.loadBalanced && this.preset === 'clonesquad' && this.o.force !== true;
    if (standAside !== this.standAside) this.o.log.info(standAside ? 'in target groups outside a subfleet: the load balancer drains this instance, the ports are not blocked (--force blocks them anyway)' : 'not behind a target group (or --force): the ports follow the state');
    this.standAside = standAside;
    this.viewVersion = view.version;
    this.goal = view.goal ?? null;
    this.maintenance = view.maintenance;
    if (this.o.forcedState !== undefined) {
      await this.apply();
      await this.flushResults();
      for (const c of view.commands) this.startCommand(c);
      return;
    }
    // An unusable state changes nothing: not the state, not the firewall, no script.
    const old = this.state;
    if (view.state !== null) {
      this.state = view.state;
      const wasDrain = this.drain;
      this.drain = view.goal !== undefined ? view.goal.ports === 'blocked' : (view.drain ?? view.state === 'draining');
      if (wasDrain !== null && wasDrain !== this.drain && view.state !== 'draining') this.o.log.info(this.drain ? 'out of service for maintenance' : 'back in service after maintenance');
    }
    await this.apply();
    if (view.state !== null && old !== view.state) {
      this.o.log.info(`state ${old ?? '(unknown)'} → ${view.state}`);
      this.queueStateScripts(view.state, old ?? 'unknown');
    }
    await this.flushResults();
    for (const c of view.commands) {
      if (c.cancel === true) await this.cancelCommand(c);
      else this.startCommand(c);
    }
  }

  /** A cancelled script: killed if it runs, reported cancelled without running if it never started. */
  private async cancelCommand(c: AgentCommand): Promise<void> {
    const running = this.aborts.get(c.id);
    if (running !== undefined) {
      if (!running.signal.aborted) this.o.log.info(`maintenance script ${c.id} cancelled by the controller: stopping it`);
      running.abort();
      return;
    }
    if (c.kind !== 'script' || this.running.has(c.id) || this.done.has(c.id) || this.unposted.has(c.id)) return;
    const reboots = this.o.journal?.get(c.id)?.reboots ?? 0;
    this.o.journal?.delete(c.id);
    this.o.log.info(`maintenance script ${c.id} cancelled by the controller before it ran`);
    this.unposted.set(c.id, { outcome: 'cancelled', exitCode: null, output: 'cancelled by the controller before it ran', reboots });
    await this.flushResults();
  }

  /** Refusals are logged once each (a controller repeats its answer every poll), at most a bounded number kept. */
  private report(refused: CheckedView['refused']): void {
    for (const r of refused) {
      if (this.reported.has(r.key)) continue;
      if (this.reported.size >= 1000) this.reported.delete(this.reported.values().next().value ?? '');
      this.reported.add(r.key);
      this.o.log.error(r.message);
    }
  }

  /** Rules follow the last known state, re-applied every poll (repairs drift); unknown state: hands off. */
  private async keepFirewall(): Promise<void> {
    if (this.o.firewall === null || this.drain === null) return;
    const block = this.drain && !this.standAside;
    try {
      const r = await this.o.firewall.reconcile(block);
      if (r.changes.length > 0) this.o.log.info(block ? 'draining: new connections to the listed ports are now refused' : 'not draining: the port rules are removed');
      const was = this.appliedBlock;
      this.appliedBlock = block;
      if (was !== null && was !== block) this.portsChanged(block);
    } catch (err) {
      this.appliedBlock = null; // not known any more: nothing is confirmed until a reconcile succeeds
      this.o.log.error(`firewall: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Applies what the controller asks, in the order a load balancer expects: a failing health answer before the
   * block, the unblock before a passing answer (docs/agent.md#drain-handshake); then reports what is applied.
   */
  private async apply(): Promise<void> {
    const pass = this.o.forcedState !== undefined ? this.o.forcedState !== 'draining' : (this.goal?.health ?? (this.drain === true ? 'fail' : 'pass')) === 'pass';
    const health = this.o.health;
    const setHealth = (): void => {
      if (health?.enabled === true && this.drain !== null && health.set(pass)) this.o.log.info(pass ? 'health answer passes: the load balancer may route to this instance' : 'health answer fails: the load balancer takes this instance out');
    };
    if (!pass) setHealth();
    await this.keepFirewall();
    if (pass) setHealth();
    await this.acknowledge();
  }

  /** The drain hooks: maintenance took the instance out (ports now blocked) or put it back (open again). */
  private portsChanged(blocked: boolean): void {
    if (blocked && this.maintenance) {
      this.blockedForMaintenance = true;
      this.runHook('take-out');
    } else if (!blocked && this.blockedForMaintenance) {
      this.blockedForMaintenance = false;
      this.runHook('put-back');
    }
  }

  private runHook(hook: Hook): void {
    const scripts = stateScripts(this.scriptDir, hook);
    if (scripts.length === 0) return;
    this.hookChain = this.hookChain.then(async () => {
      for (const s of scripts) {
        const r = await runScript(s, [hook, 'maintenance'], this.o.scriptTimeoutMs);
        const how = r.timedOut ? `killed after ${this.o.scriptTimeoutMs} ms` : r.error ?? `exit ${r.exitCode ?? 'signal'}`;
        this.o.log.info(`hook ${s} ${hook}: ${how}${r.output.trim() === '' ? '' : `\n${r.output.trim()}`}`);
        this.hookOutcomes.push({ name: hook, outcome: how.slice(0, 40) });
        if (this.hookOutcomes.length > 10) this.hookOutcomes.shift();
      }
    });
    this.track(this.hookChain);
  }

  /** What is applied now, as the controller's acknowledgement wants it; null while the firewall's rules are unknown. */
  private applied(): { ports: AckPorts; health: AckHealth } | null {
    let ports: AckPorts;
    if (this.o.firewall === null) ports = 'none';
    else if (this.drain === true && this.standAside) ports = 'stand-aside';
    else if (this.appliedBlock === null) return null;
    else ports = this.appliedBlock ? 'blocked' : 'open';
    return { ports, health: this.o.health?.enabled === true ? this.o.health.state : 'none' };
  }

  /** Reports what is applied, for the goal it answers (every poll, and right after each change). */
  private async acknowledge(): Promise<void> {
    const applied = this.applied();
    if (this.goal === null || applied === null) return;
    const body = { version: this.goal.version, ...applied, state: this.state, ...(this.hookOutcomes.length === 0 ? {} : { hooks: [...this.hookOutcomes] }) };
    try {
      const r = await this.request('POST', `/v1/instances/${encodeURIComponent(this.o.instanceId)}/ack`, body);
      if (!r.ok && r.status !== 404) this.o.log.error(`report of what is applied refused: HTTP ${r.status} ${(await r.text()).slice(0, 200)}`);
    } catch {
      // unreachable: reported again with the next poll
    }
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** State scripts run one change after another, in order, without holding up the poll. */
  private queueStateScripts(state: string, old: string): void {
    const scripts = stateScripts(this.scriptDir, state);
    if (scripts.length === 0) return;
    this.scriptChain = this.scriptChain.then(async () => {
      for (const s of scripts) {
        const r = await runScript(s, [state, old], this.o.scriptTimeoutMs);
        const how = r.timedOut ? `killed after ${this.o.scriptTimeoutMs} ms` : r.error ?? `exit ${r.exitCode ?? 'signal'}`;
        this.o.log.info(`script ${s} ${state} ${old}: ${how}${r.output.trim() === '' ? '' : `\n${r.output.trim()}`}`);
      }
    });
    this.track(this.scriptChain);
  }

  private known(id: string): boolean {
    return this.running.has(id) || this.done.has(id) || this.unposted.has(id);
  }

  private startCommand(c: AgentCommand): void {
    if (this.known(c.id)) return;
    // A retry of a delivery this agent already started: not run again. Posting the first run's result answers the
    // retry too (the controller passes it on), so it is only remembered here.
    const first = (c.replaces ?? []).find((id) => this.known(id));
    if (first !== undefined) {
      this.o.log.info(`command ${c.id} (event ${c.event ?? ''}) is a retry of ${first}, already run or running: not run again`);
      this.remember(c.id);
      return;
    }
    this.running.add(c.id);
    // Set at once, so a cancel arriving while the script is being set up still reaches it.
    const abort = new AbortController();
    if (c.kind === 'script') this.aborts.set(c.id, abort);
    const work = (async () => {
      let result: { outcome: string; exitCode: number | null; output: string; reboots?: number };
      if (c.kind === 'bypass') {
        const found = checkBypassFile(c.path ?? '');
        result = { outcome: found, exitCode: null, output: `${c.path ?? ''}: ${found}` };
      } else if (c.kind === 'script') {
        let r;
        try {
          r = await this.runMaintenanceScript(c, abort.signal);
        } finally {
          this.aborts.delete(c.id);
        }
        if (r === null) return; // rebooting: run again when the machine is back
        result = r;
      } else {
        result = await runEventScript(this.eventDir, c.event ?? '', c.args, c.timeoutMs);
      }
      this.o.log.info(`command ${c.kind === 'event' ? `event ${c.event ?? ''}` : c.kind === 'script' ? `maintenance script ${c.id}` : `bypass check ${c.path ?? ''}`}: ${result.outcome}${result.exitCode === null ? '' : ` (exit ${result.exitCode})`}`);
      this.unposted.set(c.id, { ...result, output: result.output.slice(-2500) });
      this.running.delete(c.id);
      await this.flushResults();
    })();
    this.track(work);
  }

  /**
   * A maintenance script under /bin/sh. Exit 194 records a reboot in the journal and reboots; after it, the
   * controller still lists the command and it runs again. Found "running" in the journal means the agent died
   * during a run: reported failed, unless the task allows a second run.
   */
  private async runMaintenanceScript(c: AgentCommand, signal: AbortSignal): Promise<{ outcome: string; exitCode: number | null; output: string; reboots: number } | null> {
    const journal = this.o.journal;
    const before = journal?.get(c.id);
    if (before?.state === 'running' && c.mayRerun !== true) {
      journal?.delete(c.id);
      return { outcome: 'failed', exitCode: null, output: 'interrupted: the agent restarted during the run, and the task does not allow a second run', reboots: before.reboots };
    }
    const reboots = before?.reboots ?? 0;
    if (signal.aborted) {
      journal?.delete(c.id);
      return { outcome: 'cancelled', exitCode: null, output: 'cancelled by the controller before it ran', reboots };
    }
    journal?.set(c.id, { state: 'running', reboots });
    const r = await runScript('/bin/sh', ['-c', c.script ?? 'exit 1'], c.timeoutMs, { ...process.env, FLEETWARDEN_INSTANCE_ID: this.o.instanceId, FLEETWARDEN_COMMAND_ID: c.id, FLEETWARDEN_REBOOTS: String(reboots) }, signal);
    if (r.cancelled === true) {
      journal?.delete(c.id);
      return { outcome: 'cancelled', exitCode: r.exitCode, output: `${r.output}\n[cancelled by the controller: process group stopped]`, reboots };
    }
    if (r.exitCode === REBOOT_EXIT && !r.timedOut && this.o.reboot !== undefined && reboots < 10) {
      journal?.set(c.id, { state: 'reboot', reboots: reboots + 1 });
      this.o.log.info(`maintenance script ${c.id} asked for a reboot (exit ${REBOOT_EXIT}); rebooting, it runs again afterwards`);
      this.running.add(c.id); // nothing else starts it meanwhile
      try {
        await this.o.reboot();
      } catch (err) {
        // No reboot: the journal says "reboot", so the next poll runs the script again all the same.
        this.o.log.error(`${err instanceof Error ? err.message : String(err)}; running the script again without one`);
        this.running.delete(c.id);
      }
      return null;
    }
    journal?.delete(c.id);
    const outcome = r.timedOut ? 'timed-out' : r.exitCode === 0 ? 'success' : 'failed';
    return { outcome, exitCode: r.exitCode, output: `${r.output}${r.error === undefined ? '' : r.error}${r.timedOut ? `\n[killed after ${c.timeoutMs} ms]` : ''}`, reboots };
  }

  private async flushResults(): Promise<void> {
    for (const [id, result] of [...this.unposted]) {
      try {
        const r = await this.request('POST', `/v1/instances/${encodeURIComponent(this.o.instanceId)}/commands/${encodeURIComponent(id)}/result`, result);
        // 2xx: recorded (or already recorded); 4xx: the controller will never take it — do not retry forever.
        if (r.ok || (r.status >= 400 && r.status < 500)) {
          if (!r.ok) this.o.log.error(`result of ${id} refused: HTTP ${r.status} ${(await r.text()).slice(0, 200)}`);
          this.unposted.delete(id);
          this.remember(id);
        }
      } catch {
        return; // unreachable: posted on a later poll
      }
    }
  }

  private remember(id: string): void {
    this.done.add(id);
    // Command ids are only remembered while the controller could still list them (a day at most).
    if (this.done.size > 10_000) this.done.delete(this.done.values().next().value ?? '');
  }

  /** Ends a poll in flight (a long poll waits at the controller): the agent is stopping. */
  stop(): void {
    this.stopping.abort();
  }

  /** Waits for scripts and commands started so far (tests, and a clean shutdown). */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }
}
