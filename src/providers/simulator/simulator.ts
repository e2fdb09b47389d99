import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Naming } from '../../config/config.js';
import type { SsmWindowInfo } from '../../config/ssm-windows.js';
import { parseDuration } from '../../domain/durations.js';
import { FleetwardenError } from '../../domain/errors.js';
import type { EventName, ObservedInstance, PowerState, ProviderHealth, TargetHealth } from '../../domain/model.js';
import { parseInstant } from '../../domain/time.js';
import type { ActionResult, Clock, CommandHandle, CommandResults, CommandRunner, FleetProvider, LoadBalancer, TagSelector, WindowSource } from '../../ports/index.js';
import type { ScriptSpec, SimulatorSeed, SimulatorSpec } from '../../config/simulator-spec.js';
import type { TaskRunResult } from '../../maintenance/model.js';

/** A retryable provider error (throttling): the executor backs off and tries again. */
export class ThrottledError extends FleetwardenError {
  override readonly name: string = 'ThrottledError';
  constructor(message: string) {
    super(message, {}, 'retryable');
  }
}

interface SimInstance {
  id: string;
  group: string;
  tags: Record<string, string>;
  zone: string;
  type: string;
  power: PowerState;
  /** When `pending` ends (boot) or `stopping` ends. */
  until: number | null;
  bootedAt: number | null;
}

interface SimTarget {
  registeredAt: number;
  deregisteringSince: number | null;
}

interface SimCommand {
  id: string;
  kind: 'event' | 'bypass' | 'script';
  event?: EventName;
  instanceIds: string[];
  /** A script's result was handed to a controller (results): from then on it may be forgotten (SCRIPT_KEEP_MS). */
  reported?: boolean;
  /** Per instance: when it answers (null = never), and the answer. */
  answers: Record<string, { at: number | null; ok: boolean; bypass?: 'present' | 'absent' | 'unknown'; detail?: string; exitCode?: number | null; output?: string; reboots?: number; undeliverable?: boolean; cancelled?: boolean }>;
}

/** An action the simulated cloud carried out, for checking a controller's behaviour from the outside. */
export interface SimAction {
  at: number;
  action: 'start' | 'stop' | 'register' | 'deregister' | 'run-event' | 'check-bypass' | 'run-script' | 'cancel-script';
  instanceId: string;
  /** Power before the action (start/stop); target group for (de)registration; event name. */
  detail: string;
  ok: boolean;
}

/** Real instant ↔ simulated instant, and the speed: every process using the world derives the same time. */
export interface ClockAnchor {
  readonly real: number;
  readonly sim: number;
  readonly speed: number;
}

interface WorldState {
  version: 1;
  now: number;
  anchor?: ClockAnchor;
  rng: number;
  seq: number;
  instances: Record<string, SimInstance>;
  targetGroups: Record<string, Record<string, SimTarget>>;
  commands: Record<string, SimCommand>;
  scriptRuns: Record<string, number>;
  /** Maintenance script command ids already accepted: a repeat is not run again. */
  scriptIds?: Record<string, CommandHandle>;
  log: SimAction[];
}

const DEFAULT_START = '2026-01-05T00:00:00Z';

/**
 * What a long-lived world keeps (`npm start` left running: a simulated day is ~400 actions and ~100 scripts): the
 * last LOG_KEEP actions of its log (the longest test run writes ~1,100 at most), and a script's result for
 * SCRIPT_KEEP_MS after it ended once a controller has read it (read again only by a controller killed between
 * reading and saving it), or UNREAD_SCRIPT_KEEP_MS if none has (SSM keeps a command's results 30 days). Otherwise
 * the world file, rewritten on every change, grows by ~45 KB per simulated day, and so does the time each rewrite
 * takes: the demo's tick went from 2.7 ms on its first simulated day to 8.7 ms on its fourth.
 */
export const LOG_KEEP = 2_000;
export const SCRIPT_KEEP_MS = 86_400_000;
export const UNREAD_SCRIPT_KEEP_MS = 30 * 86_400_000;

export interface SimulatorOptions {
  /** Start from a snapshot of a real fleet instead of the spec's `groups` (and list its windows). */
  readonly seed?: SimulatorSeed;
  /** Never write the world file (a snapshot reads the world; it must not move it). */
  readonly readOnly?: boolean;
}
const ms = (v: string | number | undefined, fallback: number, field: string): number => (v === undefined ? fallback : parseDuration(v, field));

/* eslint-disable @typescript-eslint/require-await -- the ports are asynchronous by contract (a throttled call
   must reject, not throw); the simulator itself computes synchronously. */

/**
 * A simulated cloud implementing every provider port: instances with boot times and jitter, target groups with
 * health checks and a deregistration delay, in-instance scripts that a scenario defines, SSM-like windows, and
 * fault injection. It is lazy: each call first advances the world to the clock's `now`, so a virtual clock can
 * jump from event to event. With a file, the world persists after every change (written atomically).
 */
export class Simulator implements FleetProvider, LoadBalancer, CommandRunner, WindowSource {
  private readonly spec: SimulatorSpec;
  private readonly clock: Clock;
  private readonly file: string | null;
  private readonly naming: Naming;
  private state: WorldState;
  /** mtime and size of the world file as this process last wrote or read it. */
  private seen: { mtimeMs: number; size: number } | null = null;
  private advancedOnce = false;
  /** Instances booting or stopping (`until` set): all `advance` has to look at, rather than the whole fleet. */
  private moving = new Set<SimInstance>();
  /** Every instance of the world, in its order (the set never changes once loaded): walking an array costs less than a big object's keys. */
  private all: SimInstance[] = [];
  /** When `forget` last looked at the scripts (simulated time). */
  private forgotAt = -Infinity;
  /** The first instant a deregistration completes (Infinity: none under way). */
  private leaveDue = Infinity;
  private readonly bootMin: number;
  private readonly bootMax: number;
  private readonly stopTime: number;
  private readonly deregistrationDelay: number;
  private readonly healthyAfter: number;
  /** Counts the changes that can change what targetHealth reports; its answer is kept until the next one. */
  private healthVersion = 0;
  /** targetHealth's last answer, valid at this healthVersion until `until` (when a target's checks pass). */
  private health: { readonly version: number; readonly until: number; readonly out: ReadonlyMap<string, Readonly<Record<string, TargetHealth>>> } | undefined;
  private readonly seed: SimulatorSeed | undefined;
  private readonly readOnly: boolean;

  constructor(spec: SimulatorSpec, naming: Naming, clock: Clock, file: string | null, anchor?: ClockAnchor, options: SimulatorOptions = {}) {
    this.spec = spec;
    this.seed = options.seed;
    this.readOnly = options.readOnly ?? false;
    this.clock = clock;
    this.file = file;
    this.naming = naming;
    this.bootMin = ms(spec.bootTime?.min, 40_000, 'simulator.bootTime.min');
    this.bootMax = ms(spec.bootTime?.max, 90_000, 'simulator.bootTime.max');
    this.stopTime = ms(spec.stopTime, 20_000, 'simulator.stopTime');
    this.deregistrationDelay = ms(spec.deregistrationDelay, 60_000, 'simulator.deregistrationDelay');
    this.healthyAfter = ms(spec.healthyAfter, 30_000, 'simulator.healthyAfter');
    this.state = file !== null && existsSync(file) ? this.read(file) : this.fresh();
    this.index();
    if (anchor !== undefined && JSON.stringify(anchor) !== JSON.stringify(this.state.anchor)) {
      this.state.anchor = anchor;
      this.save();
    }
  }

  private read(file: string): WorldState {
    const st = statSync(file);
    this.seen = { mtimeMs: st.mtimeMs, size: st.size };
    return JSON.parse(readFileSync(file, 'utf8')) as WorldState;
  }

  /** Another process (a standby controller that took over) may have changed the world: pick its changes up. */
  private reload(): void {
    if (this.file === null || !existsSync(this.file)) return;
    const st = statSync(this.file);
    if (this.seen !== null && st.mtimeMs === this.seen.mtimeMs && st.size === this.seen.size) return;
    this.state = this.read(this.file);
    this.advancedOnce = false;
    this.index();
  }

  /** The clock anchor saved in a world file, if any. */
  static savedAnchor(file: string): ClockAnchor | null {
    if (!existsSync(file)) return null;
    return (JSON.parse(readFileSync(file, 'utf8')) as WorldState).anchor ?? null;
  }

  static startTime(spec: SimulatorSpec): number {
    return parseInstant(spec.start ?? DEFAULT_START, 'simulator.start');
  }

  private fresh(): WorldState {
    const now = Simulator.startTime(this.spec);
    const state: WorldState = { version: 1, now, rng: this.spec.seed ?? 42, seq: 0, instances: {}, targetGroups: {}, commands: {}, scriptRuns: {}, log: [] };
    if (this.seed !== undefined) return this.seeded(state, this.seed);
    const p = this.naming.tagPrefix;
    for (const [group, g] of Object.entries(this.spec.groups)) {
      const zones = g.zones ?? ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
      const tg = g.targetGroup === false ? null : `tg-${group}`;
      if (tg !== null) state.targetGroups[tg] = {};
      let i = 0; // the group's instances so far: zones are dealt round-robin
      const add = (id: string, tags: Record<string, string>, type: string): void => {
        const running = g.running === true;
        const own = { ...(g.groupTag === false ? {} : { [`${p}:group-name`]: group }), Name: id, ...g.instanceTags };
        const zone = zones[i % zones.length] ?? 'zone-a';
        if (state.instances[id] === undefined) i++;
        state.instances[id] = { id, group, tags: { ...own, ...tags }, zone, type, power: running ? 'running' : 'stopped', until: null, bootedAt: running ? now - 3_600_000 : null };
        if (tg !== null) (state.targetGroups[tg] ?? {})[id] = { registeredAt: now - 3_600_000, deregisteringSince: null };
      };
      const lh = g.lighthouse ?? 0;
      for (let n = 1; n <= g.instances; n++) {
        const isLh = n <= lh;
        add(`i-${group}-${String(n).padStart(3, '0')}`, isLh ? { [`${p}:lighthouse`]: 'true' } : {}, isLh ? (g.lighthouseType ?? 't3.nano') : (g.instanceType ?? 't3.large'));
      }
      for (const [sub, count] of Object.entries(g.subfleets ?? {})) {
        for (let n = 1; n <= count; n++) add(`i-${group}-${sub}-${String(n).padStart(2, '0')}`, { [`${p}:subfleet-name`]: sub }, g.instanceType ?? 't3.large');
      }
      for (const [tier, count] of Object.entries(g.tiers ?? {})) {
        for (let n = 1; n <= count; n++) add(`i-${group}-${tier.toLowerCase()}-${String(n).padStart(2, '0')}`, { [g.tierTag ?? 'Role']: tier }, g.instanceType ?? 't3.large');
      }
      for (const [id, tags] of Object.entries(g.tags ?? {})) {
        const i = state.instances[id];
        if (i !== undefined) i.tags = { ...i.tags, ...tags };
      }
    }
    return state;
  }

  /**
   * The world of a snapshot: its instances exactly (ids, tags, zones, types, power) and its target groups' members.
   * Instances caught mid-boot or mid-stop finish after their group's time; running ones count as up for an hour.
   */
  private seeded(state: WorldState, seed: SimulatorSeed): WorldState {
    const now = state.now;
    this.state = state; // a boot under way draws its length from the world's own random numbers
    for (const s of seed.instances) {
      const i: SimInstance = { id: s.id, group: s.group ?? '', tags: { ...s.tags }, zone: s.zone, type: s.type, power: s.power, until: null, bootedAt: s.power === 'running' ? now - 3_600_000 : null };
      if (s.power === 'pending') i.until = now + this.bootTimeOf(i);
      if (s.power === 'stopping') i.until = now + this.stopTimeOf(i);
      state.instances[s.id] = i;
    }
    for (const [tg, t] of Object.entries(seed.targetGroups)) {
      const targets: Record<string, SimTarget> = (state.targetGroups[tg] = {});
      for (const id of t.members) targets[id] = { registeredAt: now - 3_600_000, deregisteringSince: null };
    }
    return state;
  }

  /** A boot's length: the group's measured time when the seed has one, else drawn between bootTime.min and max. */
  private bootTimeOf(i: SimInstance): number {
    const measured = this.seed?.timings[i.group]?.bootMs;
    return measured ?? this.bootMin + Math.floor(this.random() * (this.bootMax - this.bootMin + 1));
  }

  private stopTimeOf(i: SimInstance): number {
    return this.seed?.timings[i.group]?.stopMs ?? this.stopTime;
  }

  /** A target group's deregistration delay: as the seed's load balancer reported it, else the spec's. */
  private delayOf(targetGroup: string): number {
    return this.seed?.targetGroups[targetGroup]?.deregistrationDelayMs ?? this.deregistrationDelay;
  }

  /** Deterministic pseudo-random numbers in [0, 1) (mulberry32), part of the persisted world. */
  private random(): number {
    let t = (this.state.rng = (this.state.rng + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** A change of the world by an action (power, target groups, a reboot): saved, and target health looked at anew. */
  private changed(): void {
    this.healthVersion++;
    this.save();
  }

  private save(): void {
    if (this.file === null || this.readOnly) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.file);
    const st = statSync(this.file);
    this.seen = { mtimeMs: st.mtimeMs, size: st.size };
  }

  /** Moves the world forward to the clock's now: boots end, stops end, deregistrations complete. */
  private advance(): number {
    this.reload();
    const now = Math.max(this.clock.now(), this.state.now);
    // Changes only ever become due as time passes: at the same instant there is nothing to move.
    if (now === this.state.now && this.advancedOnce) return now;
    this.advancedOnce = true;
    for (const i of this.moving) {
      if (i.until === null) this.moving.delete(i);
      else if (i.until <= now) {
        if (i.power === 'pending') {
          i.power = 'running';
          i.bootedAt = i.until;
        } else if (i.power === 'stopping') {
          i.power = 'stopped';
          i.bootedAt = null;
        }
        i.until = null;
        this.moving.delete(i);
        this.healthVersion++;
      }
    }
    if (now >= this.leaveDue) {
      // Completed deregistrations leave their target group; the next one to complete is found on the same walk.
      this.leaveDue = Infinity;
      for (const [tg, targets] of Object.entries(this.state.targetGroups)) {
        const delay = this.delayOf(tg);
        for (const id in targets) {
          const since = (targets[id] as SimTarget).deregisteringSince;
          if (since === null) continue;
          if (since + delay <= now) {
            Reflect.deleteProperty(targets, id);
            this.healthVersion++;
          } else this.leaveDue = Math.min(this.leaveDue, since + delay);
        }
      }
    }
    this.forget(now);
    const changed = now !== this.state.now;
    this.state.now = now;
    if (changed) this.save();
    return now;
  }

  /** Drops what a long-lived world need not keep (LOG_KEEP, SCRIPT_KEEP_MS); looks at the scripts once a simulated hour. */
  private forget(now: number): void {
    const log = this.state.log;
    // In steps of a tenth, so that the log is not shifted on every action.
    if (log.length > LOG_KEEP * 1.1) log.splice(0, log.length - LOG_KEEP);
    if (now < this.forgotAt + 3_600_000) return;
    this.forgotAt = now;
    for (const [id, c] of Object.entries(this.state.commands)) {
      if (c.kind !== 'script') continue;
      const keep = c.reported === true ? SCRIPT_KEEP_MS : UNREAD_SCRIPT_KEEP_MS;
      let ended = true;
      for (const a of Object.values(c.answers)) if (a.at === null || a.at > now - keep) ended = false;
      if (!ended) continue;
      Reflect.deleteProperty(this.state.commands, id);
      if (this.state.scriptIds !== undefined) Reflect.deleteProperty(this.state.scriptIds, id);
    }
  }

  /** Rebuilds what `advance` looks at from the world as loaded: the instances in motion, the next deregistration. */
  private index(): void {
    this.healthVersion++;
    this.all = Object.values(this.state.instances);
    this.moving = new Set(this.all.filter((i) => i.until !== null));
    this.leaveDue = Infinity;
    for (const [tg, targets] of Object.entries(this.state.targetGroups)) {
      for (const t of Object.values(targets)) if (t.deregisteringSince !== null) this.leaveDue = Math.min(this.leaveDue, t.deregisteringSince + this.delayOf(tg));
    }
  }

  private throttle(): void {
    const rate = this.spec.faults?.throttleRate ?? 0;
    if (rate > 0 && this.random() < rate) {
      this.save();
      throw new ThrottledError('Rate exceeded (simulated throttling)');
    }
  }

  private fails(): boolean {
    const rate = this.spec.faults?.errorRate ?? 0;
    return rate > 0 && this.random() < rate;
  }

  /** The next instant at which the world changes by itself (a boot or stop ends, a deregistration or script completes). */
  nextEventAfter(now: number): number | null {
    let next = Infinity;
    for (const i of this.all) if (i.until !== null && i.until > now) next = Math.min(next, i.until);
    for (const [tg, targets] of Object.entries(this.state.targetGroups)) {
      for (const t of Object.values(targets)) {
        if (t.deregisteringSince !== null) next = Math.min(next, Math.max(now + 1, t.deregisteringSince + this.delayOf(tg)));
        else if (t.registeredAt + this.healthyAfter > now) next = Math.min(next, t.registeredAt + this.healthyAfter);
      }
    }
    for (const c of Object.values(this.state.commands)) for (const a of Object.values(c.answers)) if (a.at !== null && a.at > now) next = Math.min(next, a.at);
    for (const i of this.all) if (i.bootedAt !== null && i.bootedAt + this.healthyAfter > now) next = Math.min(next, i.bootedAt + this.healthyAfter);
    return Number.isFinite(next) ? next : null;
  }

  get actions(): readonly SimAction[] {
    return this.state.log;
  }

  /** Tags of a simulated instance (for checks made from outside the controller). */
  tagsOf(instanceId: string): Readonly<Record<string, string>> | undefined {
    return this.state.instances[instanceId]?.tags;
  }

  /** Reads a persisted world's action log and tags without a running simulator. */
  static readWorld(file: string): { actions: SimAction[]; tags: Record<string, Record<string, string>>; now: number } {
    const w = JSON.parse(readFileSync(file, 'utf8')) as WorldState;
    return { actions: w.log, tags: Object.fromEntries(Object.values(w.instances).map((i) => [i.id, i.tags])), now: w.now };
  }

  get now(): number {
    return this.state.now;
  }

  // ---- FleetProvider -------------------------------------------------------------------------------------------

  async listInstances(tagKeys: readonly string[], select?: readonly TagSelector[]): Promise<ObservedInstance[]> {
    const now = this.advance();
    this.throttle();
    const out: ObservedInstance[] = [];
    // Loops rather than closures: this runs for every instance on every tick.
    for (const i of this.all) {
      let tagged = false;
      for (const k of tagKeys) if (i.tags[k] !== undefined) tagged = true;
      if (!tagged) continue;
      if (select !== undefined && !select.some((s) => i.tags[s.key] === s.value)) continue;
      const health: ProviderHealth = i.power !== 'running' ? 'unknown' : i.bootedAt !== null && now - i.bootedAt < this.healthyAfter ? 'initializing' : 'ok';
      // Tags are replaced, never changed in place: the observation may share them.
      out.push({ id: i.id, tags: i.tags, zone: i.zone, instanceType: i.type, power: i.power, health, targets: {} });
    }
    return out;
  }

  /** A power action on each instance: logged with the power it found, failing at the injected error rate. */
  private powerAction(action: 'start' | 'stop', ids: readonly string[], failure: string, apply: (i: SimInstance, now: number) => void): ActionResult[] {
    const now = this.advance();
    this.throttle();
    const results = ids.map((id): ActionResult => {
      const i = this.state.instances[id];
      if (!i) return { instanceId: id, ok: false, detail: 'InvalidInstanceID.NotFound' };
      const ok = !this.fails();
      this.state.log.push({ at: now, action, instanceId: id, detail: i.power, ok });
      if (!ok) return { instanceId: id, ok, detail: `${failure} (simulated)` };
      apply(i, now);
      return { instanceId: id, ok };
    });
    this.changed();
    return results;
  }

  async start(ids: readonly string[]): Promise<ActionResult[]> {
    return this.powerAction('start', ids, 'InsufficientInstanceCapacity', (i, now) => {
      if (i.power !== 'stopped') return; // starting a running instance changes nothing, as in EC2
      i.power = 'pending';
      i.until = now + this.bootTimeOf(i);
      this.moving.add(i);
    });
  }

  async stop(ids: readonly string[], _options?: { readonly force: boolean }): Promise<ActionResult[]> {
    const stuck = new Set(this.spec.faults?.stuckStopping ?? []);
    return this.powerAction('stop', ids, 'InternalError', (i, now) => {
      if (i.power !== 'running' && i.power !== 'pending') return;
      i.power = 'stopping';
      i.until = stuck.has(i.id) ? null : now + this.stopTimeOf(i);
      if (i.until !== null) this.moving.add(i);
    });
  }

  // ---- LoadBalancer ----------------------------------------------------------------------------------------------

  /**
   * Each target's health. The same answer (the same map and records) comes back until something changes it: an
   * action, a boot or stop ending, a deregistration completing, or a target's checks passing — as a controller at rest
   * reads it every tick, and recognises what it saw last by reference (reconciler/rest.ts).
   */
  async targetHealth(): Promise<ReadonlyMap<string, Readonly<Record<string, TargetHealth>>>> {
    const now = this.advance();
    this.throttle();
    if (this.health !== undefined && this.health.version === this.healthVersion && now < this.health.until) return this.health.out;
    const out = new Map<string, Record<string, TargetHealth>>();
    let until = Infinity;
    for (const [tg, targets] of Object.entries(this.state.targetGroups)) {
      for (const id in targets) {
        const t = targets[id] as SimTarget;
        const i = this.state.instances[id];
        let h: TargetHealth;
        if (t.deregisteringSince !== null) h = 'draining';
        else if (!i || i.power !== 'running') h = 'unused';
        else if (now - Math.max(t.registeredAt, i.bootedAt ?? 0) < this.healthyAfter) {
          h = 'initial';
          until = Math.min(until, Math.max(t.registeredAt, i.bootedAt ?? 0) + this.healthyAfter);
        } else h = 'healthy';
        let of = out.get(id);
        if (of === undefined) out.set(id, (of = {}));
        of[tg] = h;
      }
    }
    this.health = { version: this.healthVersion, until, out };
    return out;
  }

  async register(targetGroup: string, ids: readonly string[]): Promise<void> {
    const now = this.advance();
    this.throttle();
    const targets = (this.state.targetGroups[targetGroup] ??= {});
    for (const id of ids) {
      targets[id] = { registeredAt: now, deregisteringSince: null };
      this.state.log.push({ at: now, action: 'register', instanceId: id, detail: targetGroup, ok: true });
    }
    this.changed();
    return;
  }

  async deregister(targetGroup: string, ids: readonly string[]): Promise<void> {
    const now = this.advance();
    this.throttle();
    const targets = this.state.targetGroups[targetGroup] ?? {};
    for (const id of ids) {
      const t = targets[id];
      if (t && t.deregisteringSince === null) {
        t.deregisteringSince = now;
        this.leaveDue = Math.min(this.leaveDue, now + this.delayOf(targetGroup));
      }
      this.state.log.push({ at: now, action: 'deregister', instanceId: id, detail: targetGroup, ok: true });
    }
    this.changed();
    return;
  }

  deregistrationDelays(): Promise<ReadonlyMap<string, number>> {
    return Promise.resolve(new Map(Object.keys(this.state.targetGroups).map((tg) => [tg, this.delayOf(tg)])));
  }

  // ---- CommandRunner ---------------------------------------------------------------------------------------------

  private script(group: string, event: string): ScriptSpec | undefined {
    const scripts = this.spec.groups[group]?.scripts ?? {};
    return scripts[event] ?? (event.startsWith('instance-state-change-') ? scripts['instance-state-change'] : undefined);
  }

  private newCommand(kind: 'event' | 'bypass' | 'script', group: string, ids: readonly string[], answer: (i: SimInstance, now: number) => SimCommand['answers'][string], event?: EventName, fixedId?: string): CommandHandle {
    const now = this.advance();
    this.throttle();
    const id = fixedId ?? `cmd-${String(++this.state.seq).padStart(6, '0')}`;
    const cmd: SimCommand = { id, kind, instanceIds: [...ids], answers: {}, ...(event === undefined ? {} : { event }) };
    for (const iid of ids) {
      const i = this.state.instances[iid];
      const a = i && i.power === 'running' ? answer(i, now) : { at: now, ok: false, bypass: 'unknown' as const, detail: 'Undeliverable: instance not running', undeliverable: true };
      cmd.answers[iid] = a;
      this.state.log.push({ at: now, action: kind === 'bypass' ? 'check-bypass' : kind === 'script' ? 'run-script' : 'run-event', instanceId: iid, detail: event ?? kind, ok: a.ok });
    }
    this.state.commands[id] = cmd;
    const handle: CommandHandle = { id, kind, group, instanceIds: [...ids], sentAt: now, ...(event === undefined ? {} : { event }) };
    // A script sent under the controller's own id is remembered in the same save as its run: a controller killed
    // between two saves would otherwise find the run done but its id unknown, and run the script again.
    if (kind === 'script' && fixedId !== undefined) (this.state.scriptIds ??= {})[id] = handle;
    this.changed();
    return handle;
  }

  async runEvent(group: string, ids: readonly string[], event: EventName): Promise<CommandHandle> {
    return this.newCommand(
        'event',
        group,
        ids,
        (i, now) => {
          const s = this.script(group, event);
          const runKey = `${i.id}|${event}`;
          const run = (this.state.scriptRuns[runKey] = (this.state.scriptRuns[runKey] ?? 0) + 1);
          const at = now + ms(s?.duration, 2000, 'duration');
          if (s?.noAnswer === true) return { at: null, ok: false };
          if (s?.failTimes !== undefined && run <= s.failTimes) return { at, ok: false, detail: `exit 1 (simulated failure ${run} of ${s.failTimes})` };
          const uptime = now - (i.bootedAt ?? now);
          const needed = ms(s?.succeedAfterUptime, 0, 'succeedAfterUptime');
          if (uptime < needed) return { at, ok: false, detail: `exit 1 (not ready: up ${Math.round(uptime / 1000)}s)` };
          return { at, ok: true, detail: 'exit 0' };
        },
      event,
    );
  }

  /**
   * A maintenance script: behaves as the first `commands` entry of the group whose `match` it contains (exit codes
   * per instance and run), otherwise exits 0 after 10 s. Exit 194 reboots the instance (health initializing for
   * `rebootTime`) and runs the script again, as SSM does; the final run's result is what the handle reports. An SSM
   * document task comes as its description (`AWS-RunPatchBaseline Operation=Scan`) and is matched the same way.
   */
  async runScript(group: string, instanceId: string, commandId: string, script: string): Promise<CommandHandle> {
    const seen = this.state.scriptIds?.[commandId];
    if (seen !== undefined) return seen;
    const g = this.spec.groups[group];
    const spec = (g?.commands ?? []).find((c) => script.includes(c.match));
    return this.newCommand('script', group, [instanceId], (i, now) => {
      const runKey = `${i.id}|script|${spec?.match ?? '*'}`;
      const duration = ms(spec?.duration, 10_000, 'duration');
      const reboot = ms(g?.rebootTime, 60_000, 'rebootTime');
      let at = now;
      let reboots = 0;
      for (;;) {
        const run = (this.state.scriptRuns[runKey] = (this.state.scriptRuns[runKey] ?? 0) + 1);
        const exits = spec?.exits?.[i.id] ?? [0];
        const exit = exits[Math.min(run - 1, exits.length - 1)] ?? 0;
        at += duration;
        if (exit === 194 && reboots < 10) {
          reboots++;
          at += reboot;
          i.bootedAt = at; // up again then; health checks pass healthyAfter later
          this.state.log.push({ at: now, action: 'run-script', instanceId: i.id, detail: 'reboot (exit 194)', ok: true });
          continue;
        }
        return { at, ok: exit === 0, exitCode: exit, output: `${spec?.output ?? `ran ${spec?.match ?? 'script'}`}\nexit ${exit}`, reboots };
      }
    }, undefined, commandId);
  }

  /** Stops a script still running: it reports `cancelled` from now on; one that already ended keeps its result. */
  async cancel(handle: CommandHandle, instanceId: string): Promise<void> {
    const now = this.advance();
    this.throttle();
    const a = this.state.commands[handle.id]?.answers[instanceId];
    const running = a !== undefined && (a.at === null || a.at > now);
    this.state.log.push({ at: now, action: 'cancel-script', instanceId, detail: handle.id, ok: running });
    if (running) Object.assign(a, { at: now, ok: false, cancelled: true, exitCode: null, output: `${a.output?.split('\n')[0] ?? 'script'}\n[cancelled]` });
    this.save();
  }

  async checkBypass(group: string, ids: readonly string[]): Promise<CommandHandle> {
    const present = new Set(this.spec.groups[group]?.bypassPresent ?? []);
    return this.newCommand('bypass', group, ids, (i, now) => ({ at: now + 2000, ok: true, bypass: present.has(i.id) ? 'present' : 'absent' }));
  }

  async results(handles: readonly CommandHandle[]): Promise<CommandResults> {
    const now = this.advance();
    const out: CommandResults & { scripts: TaskRunResult[] } = { events: [], bypass: [], scripts: [], finished: [] };
    for (const h of handles) {
      const cmd = this.state.commands[h.id];
      if (!cmd) {
        out.finished.push(h.id);
        continue;
      }
      let open = 0;
      for (const [iid, a] of Object.entries(cmd.answers)) {
        if (a.at === null) {
          open++;
          continue;
        }
        if (a.at > now) {
          open++;
          continue;
        }
        if (cmd.kind === 'script') {
          cmd.reported = true;
          out.scripts.push({ commandId: h.id, instanceId: iid, status: a.undeliverable === true ? 'undeliverable' : a.cancelled === true ? 'cancelled' : a.ok ? 'success' : 'failed', exitCode: a.exitCode ?? null, output: a.output ?? a.detail ?? '', at: a.at, reboots: a.reboots ?? 0 });
        } else if (cmd.kind === 'event' && cmd.event !== undefined) out.events.push({ instanceId: iid, event: cmd.event, ok: a.ok, at: a.at, ...(a.detail === undefined ? {} : { detail: a.detail }) });
        else out.bypass.push({ instanceId: iid, result: a.bypass ?? 'unknown', at: a.at });
      }
      // A command nobody answers is given up after an hour, like an SSM command's delivery timeout.
      if (open === 0 || now - h.sentAt > 3_600_000) {
        out.finished.push(h.id);
        // A maintenance script's result can be read again (as SSM and the agent store keep theirs): a controller
        // killed after reading it, before saving, reads it once more.
        if (cmd.kind !== 'script') Reflect.deleteProperty(this.state.commands, h.id);
      }
    }
    this.save();
    return out;
  }

  // ---- WindowSource ----------------------------------------------------------------------------------------------

  async list(): Promise<SsmWindowInfo[]> {
    this.advance();
    if (this.seed !== undefined) return this.seed.windows.map((w) => ({ ...w, tags: { ...w.tags } }));
    return (this.spec.ssmWindows ?? []).map((w, n) => ({
        id: `mw-${String(n + 1).padStart(17, '0')}`,
        name: w.name,
        schedule: w.schedule,
        durationHours: w.durationHours,
        cutoffHours: w.cutoffHours ?? 0,
        enabled: w.enabled ?? true,
        tags: w.tags ?? {},
        ...(w.timezone === undefined ? {} : { timezone: w.timezone }),
        ...(w.offsetDays === undefined ? {} : { offsetDays: w.offsetDays }),
      }));
  }
}
