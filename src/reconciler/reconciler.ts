import type { FleetConfig, GroupConfig, WindowDecl } from '../config/config.js';
import { type FleetRef, resolve, type Resolved } from '../config/resolve.js';
import { type DiscoveredWindows, type SsmWindowInfo, ssmWindowsForGroup } from '../config/ssm-windows.js';
import type { Control, ObservedInstance } from '../domain/model.js';
import { errorKind, LeaseLostError, ValidationError } from '../domain/errors.js';
import { describeProblem, type Problem, type ReportedProblem, reconcileProblems } from '../domain/problems.js';
import { assignGroups, type GroupConflict, groupSelectors, inspectInstances, selectingTagKeys } from '../planner/inspect.js';
import { GroupFence } from './fence.js';
import { formatInstant } from '../domain/time.js';
import { plan } from '../planner/plan.js';
import type { Command, Plan } from '../planner/types.js';
import type { AgentQueue, Clock, CommandHandle, CommandResults, CommandRunner, ExecutionStore, FleetProvider, GroupState, GroupStateStore, HistoryEntry, HistoryStore, Lease, LeaseStore, LoadBalancer, ObjectStore, SettingsStore, WindowSource } from '../ports/index.js';
import { heldInstances } from '../maintenance/execution.js';
import { type CancelRequest, isOpen, type WindowExecution } from '../maintenance/model.js';
import { pruneObjects } from '../store/objects/objects.js';
import { carryOutAfterSave, type MaintenanceDeps, type MaintenanceInputs, type MaintenanceTick, maintenanceTick } from './maintenance.js';
import { execute, type Execution, type ExecutorDeps, type RetryPolicy, withRetry } from './executor.js';
import { joinObservation, nextBoundary, restUntil, sameObservation, windowStateOver } from './rest.js';
import { type GroupPreview, type MaintenanceStep, previewPorts, type PreviewSummary } from './preview.js';

/** How long agent commands are kept after they were sent (pruned by a tick, or expired by the table's TTL). */
export const AGENT_COMMAND_RETENTION_MS = 86_400_000;

/** What the controller reports as it works (the CLI prints these; `simulate --json` emits them as JSON Lines). */
export type ControllerEvent =
  | { readonly type: 'transition'; readonly at: number; readonly group: string; readonly instance: string; readonly from: string; readonly to: string; readonly reason: string }
  | { readonly type: 'command'; readonly at: number; readonly group: string; readonly command: string; readonly instances: readonly string[]; readonly reason: string }
  | { readonly type: 'window'; readonly at: number; readonly group: string; readonly name: string; readonly state: 'enter' | 'exit' }
  | { readonly type: 'retry' | 'error' | 'lease'; readonly at: number; readonly group: string; readonly message: string; readonly instance?: string | null }
  | { readonly type: 'problem'; readonly at: number; readonly group: string; readonly state: 'found' | 'cleared'; readonly problem: Problem }
  | { readonly type: 'maintenance'; readonly at: number; readonly group: string; readonly instance: string | null; readonly message: string; readonly data?: Readonly<Record<string, unknown>> };

/** The store roles a reconciler uses: everything but the API's tokens. */
export type ReconcilerStore = LeaseStore & GroupStateStore & HistoryStore & SettingsStore & AgentQueue & ExecutionStore;

export interface ReconcilerDeps {
  readonly config: FleetConfig;
  readonly provider: FleetProvider;
  readonly lb: LoadBalancer;
  readonly runner: CommandRunner;
  readonly windowSource: WindowSource | null;
  readonly store: ReconcilerStore;
  readonly clock: Clock;
  readonly owner: string;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly retry?: RetryPolicy;
  readonly onEvent?: (e: ControllerEvent) => void;
  /** Wraps each group's part of a tick, e.g. to time it (app/metrics.ts): the reconciler itself reads no clock for it. */
  readonly timeGroupTick?: <T>(group: string, run: () => Promise<T>) => Promise<T>;
  /** Where full outputs of maintenance tasks are kept (none: only the first 2500 characters, in the store). */
  readonly objects?: ObjectStore | null;
  /** false: every group is planned on every tick, even at rest (rest.ts); tests compare the two [true]. */
  readonly skipAtRest?: boolean;
  /**
   * true: the store expires history, agent commands and leases itself (DynamoDB TTL) and the object store its outputs
   * (an S3 lifecycle rule), so a tick runs no prune scans (the AWS deployment, infra/) [false].
   */
  readonly expiresItself?: boolean;
}

export interface GroupTick {
  readonly group: string;
  readonly plan: Plan;
  readonly windows: readonly WindowDecl[];
  readonly startAheadMs: number;
  /** A maintenance execution is running in the group. */
  readonly maintenanceRunning: boolean;
  /** Instances the group's open maintenance executions hold out of service after the tick (a task ran or runs on them). */
  readonly maintenanceOutOfService: ReadonlySet<string>;
  /** Input the tick could not use (reported, left alone). */
  readonly problems: readonly ReportedProblem[];
}

export interface TickSummary {
  readonly at: number;
  /** Groups this controller held the lease of and acted on. */
  readonly groups: readonly GroupTick[];
  /** Groups another controller holds. */
  readonly skipped: readonly string[];
  /** Groups whose tick failed (each is recorded in its history; the other groups went on). */
  readonly failed: readonly { readonly group: string; readonly error: string }[];
}

/** A group's last failed tick, for status and the API. */
export interface GroupError {
  readonly at: number;
  readonly message: string;
  /** Whether the failure is transient (throttling, the network, a lost lease): by the error's kind, never its name. */
  readonly retryable: boolean;
}

/** What the tick observed of the whole fleet, by group. */
interface Observed {
  readonly byGroup: ReadonlyMap<string, ObservedInstance[]>;
  readonly conflicts: ReadonlyMap<string, GroupConflict[]>;
  readonly ssm: readonly SsmWindowInfo[];
  readonly delays: ReadonlyMap<string, number>;
  /** Groups the providers could not observe this tick, with why. */
  readonly unobserved: ReadonlyMap<string, Error>;
}

/** What a group's tick read before planning (readGroup). */
interface GroupSeen {
  readonly state: GroupState;
  readonly results: CommandResults;
  readonly instances: readonly ObservedInstance[];
  readonly quarantined: ReadonlyMap<string, string>;
  readonly discovered: DiscoveredWindows;
  readonly resolved: Resolved;
  readonly problems: ReturnType<typeof reconcileProblems>;
  readonly controls: readonly Control[];
}

/** What a group's tick is given besides the stored state: a tick given the same, at rest, decides the same (rest.ts). */
interface GroupInputs {
  readonly observed: readonly ObservedInstance[];
  readonly conflicts: readonly GroupConflict[];
  readonly storeValues: Awaited<ReturnType<SettingsStore['storeValues']>>;
  readonly overrides: Awaited<ReturnType<SettingsStore['overrides']>>;
  readonly controls: readonly Control[];
  /** The tick's other inputs, in one string: the SSM windows seen, settings, overrides, controls, conflicts. */
  readonly key: string;
}

/** A group found at rest: the state and inputs its last tick had, what it reported, and until when it holds. */
interface Rest {
  readonly state: GroupState;
  readonly inputs: GroupInputs;
  readonly until: number;
  readonly tick: GroupTick;
}

/** What a group's tick did before saving (act), and what the steps after the save need of it. */
interface GroupActs {
  readonly ex: Execution;
  readonly mt: MaintenanceTick;
  readonly mdeps: MaintenanceDeps;
  readonly cancels: readonly CancelRequest[];
  readonly withheld: (instanceId: string) => string | null;
  readonly allWindows: readonly WindowDecl[];
  readonly scriptTimeoutMs: number;
  readonly newHandles: CommandHandle[];
}

/** What a tick brings to maintenance (the same for a tick and a preview). */
function maintenanceInputs(g: GroupConfig, now: number, seen: GroupSeen, p: Plan, cancels: readonly CancelRequest[]): MaintenanceInputs {
  const { state, results } = seen;
  return {
    group: g,
    resolved: seen.resolved,
    instances: seen.instances,
    records: new Map(p.records.map((r) => [r.instanceId, r])),
    now,
    open: state.executions,
    scripts: results.scripts ?? [],
    events: results.events,
    returnToService: new Set(seen.controls.filter((c) => c.kind === 'return-to-service').map((c) => c.instanceId)),
    handles: state.handles,
    cancels,
  };
}

/** Load-balancer commands wait for the tick's save (written ahead). */
function isLb(c: Command): boolean {
  return c.kind === 'deregister' || c.kind === 'register';
}

/**
 * The level-triggered loop (docs/development.md#layers-and-rules-of-the-house): observe → resolve → plan → execute →
 * record. Every tick re-reads the world, so a restart, a lost tick or a duplicate tick converges to the same place.
 * One controller acts on a group at a time (a lease in the store).
 */
export class Reconciler {
  private readonly deps: ReconcilerDeps;
  private readonly exec: ExecutorDeps;
  private readonly held = new Map<string, Lease>();
  private readonly lastErrors = new Map<string, GroupError>();
  /**
   * Each group's stored state as this controller last wrote it, valid only while it has held the group's lease
   * without a break (no other controller can have written meanwhile). Any lapse drops it: the store is re-read.
   */
  private readonly cache = new Map<string, GroupState>();
  /**
   * Each instance as last observed, kept up to date by joinObservation (whose unchanged objects it hands back), and
   * for the API's instance view (subfleet, target groups, window periods).
   */
  private readonly seen = new Map<string, ObservedInstance>();
  /** Groups at rest (rest.ts), valid with the cached state they were found with. */
  private readonly rest = new Map<string, Rest>();
  private lastOutputPrune = -Infinity;
  private readonly activeWindows = new Map<string, { readonly name: string; readonly start: number; readonly end: number }[]>();

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
    this.exec = {
      provider: deps.provider,
      lb: deps.lb,
      runner: deps.runner,
      sleep: deps.sleep,
      random: deps.random ?? Math.random,
      now: () => deps.clock.now(),
      ...(deps.retry === undefined ? {} : { retry: deps.retry }),
    };
  }

  private emit(e: ControllerEvent): void {
    this.deps.onEvent?.(e);
  }

  /** One tick of every group: one observation of the fleet, shared; then each group reconciled as a unit. */
  async tick(): Promise<TickSummary> {
    return this.reconcile(this.deps.config.groups);
  }

  /**
   * One reconcile of one group, on its own (the Lambda worker, tests): lease → observe what the group selects →
   * resolve → plan → execute → record. Its failure is in the summary's `failed` and in groupErrors(), as in a tick.
   */
  async reconcileGroup(name: string): Promise<TickSummary> {
    const g = this.deps.config.groups.find((x) => x.name === name);
    if (g === undefined) throw new ValidationError('group', `no group named ${JSON.stringify(name)} in the configuration`);
    return this.reconcile([g]);
  }

  /** lease → observe → (per group) resolve → plan → execute → record, for `groups`; one group's failure stops no other. */
  private async reconcile(groups: readonly GroupConfig[]): Promise<TickSummary> {
    const { config, store, clock } = this.deps;
    const now = clock.now();
    const mine: { g: GroupConfig; fence: GroupFence }[] = [];
    const skipped: string[] = [];
    for (const g of groups) {
      const lease = await store.acquireLease(g.name, this.deps.owner, now, config.controller.leaseTtlMs);
      const before = this.held.get(g.name);
      if (lease !== null) {
        // A new generation means the lease lapsed to someone else meanwhile: what this controller cached is stale.
        if (before?.generation !== lease.generation) {
          this.cache.delete(g.name);
          this.emit({ type: 'lease', at: now, group: g.name, message: `lease acquired by ${this.deps.owner} (generation ${lease.generation})` });
        }
        this.held.set(g.name, lease);
        mine.push({ g, fence: new GroupFence(store, clock, config.controller.leaseTtlMs, lease) });
      } else {
        this.cache.delete(g.name);
        if (this.held.delete(g.name)) this.emit({ type: 'lease', at: now, group: g.name, message: `lease lost by ${this.deps.owner}` });
        skipped.push(g.name);
      }
    }
    if (mine.length === 0) return { at: now, groups: [], skipped, failed: [] };

    // The tick's deadline: retries stop by the next tick's time, so a throttled tick neither runs into the next one
    // nor nears its lease (at least twice the interval, config/load.ts; the fence renews it besides). Other groups'
    // ticks share it: time one group spent retrying is not spent again by the next.
    const exec: ExecutorDeps = { ...this.exec, deadline: now + config.controller.tickIntervalMs };
    const history: HistoryEntry[] = [];
    // A tick lists the fleet once (as before), whoever holds which group; reconcileGroup lists its group's instances.
    const { byGroup, conflicts, ssm, delays, unobserved } = await this.observe(exec, history, groups.length === config.groups.length ? config.groups : mine.map((m) => m.g));
    const out: GroupTick[] = [];
    const failed: { group: string; error: string }[] = [];
    const inputsOf = await this.inputs(now, byGroup, conflicts, ssm, unobserved);
    for (const [n, { g, fence }] of mine.entries()) {
      // One group's failure (a bug, a call that kept failing, a lost lease) never stops another group's tick.
      try {
        const run = async (): Promise<GroupTick> => this.tickGroup(g, now, await inputsOf(g), ssm, delays, n === 0 ? history : [], fence, exec);
        out.push(await (this.deps.timeGroupTick === undefined ? run() : this.deps.timeGroupTick(g.name, run)));
        this.lastErrors.delete(g.name);
      } catch (err) {
        failed.push({ group: g.name, error: await this.groupFailed(g.name, fence, err) });
      }
    }
    // A deployment whose store and bucket expire entries themselves (DynamoDB TTL, an S3 lifecycle rule) skips the scans.
    if (this.deps.expiresItself === true) return { at: now, groups: out, skipped, failed };
    await store.pruneHistory(now - config.controller.historyRetentionMs);
    if (config.controller.eventDelivery === 'agent') await store.pruneAgentCommands(now - AGENT_COMMAND_RETENTION_MS);
    if (this.deps.objects && now - this.lastOutputPrune >= 3_600_000) {
      this.lastOutputPrune = now;
      await pruneObjects(this.deps.objects, 'executions/', now - config.controller.outputRetentionMs);
    }
    return { at: now, groups: out, skipped, failed };
  }

  /**
   * Observe: the instances `groups` select (default all) with their target health, the target groups' delays, the SSM
   * windows; by group. Membership is judged against every group, so a conflict with an unobserved group still shows.
   */
  private async observe(exec: ExecutorDeps, history: HistoryEntry[], groups: readonly GroupConfig[] = this.deps.config.groups): Promise<Observed> {
    const { config } = this.deps;
    // Some of the groups (reconcileGroup, the Lambda worker): only their instances are listed, by tag value.
    const select = groups.length < config.groups.length ? groupSelectors(groups, config.naming) : undefined;
    const observed = await withRetry(exec, 'list instances', '*', history, () => this.deps.provider.listInstances(selectingTagKeys(groups, config.naming), select));
    // Likewise the target health: only the target groups of the groups observed (one call each on ELBv2), all for all.
    const only = select === undefined ? undefined : groups.map((g) => g.name);
    const health = await withRetry(exec, 'target health', '*', history, () => this.deps.lb.targetHealth(only));
    const delays = await withRetry(exec, 'deregistration delays', '*', history, () => this.deps.lb.deregistrationDelays());
    const ssm: SsmWindowInfo[] = config.ssmDiscovery && this.deps.windowSource ? await withRetry(exec, 'list windows', '*', history, () => (this.deps.windowSource as WindowSource).list()) : [];
    // Groups whose account or region could not be read (a multi-account provider answered for the others).
    const unobserved = new Map([...(this.deps.lb.unobserved?.() ?? []), ...(this.deps.provider.unobserved?.() ?? [])]);
    // The whole fleet, every account and region answering: an instance not listed is gone. (Not for a partial listing,
    // nor while an account is unobserved: its instances stay as last seen in the API's instance view.)
    const joined = joinObservation(observed, health, this.seen, select === undefined && unobserved.size === 0);
    return { ...assignGroups(joined, config.groups, config.naming), ssm, delays, unobserved };
  }

  /** What each group's tick is given besides its stored state: the settings read once per tick, the rest per group. */
  private async inputs(now: number, byGroup: Observed['byGroup'], conflicts: Observed['conflicts'], ssm: readonly SsmWindowInfo[], unobserved: ReadonlyMap<string, Error> = new Map()): Promise<(g: GroupConfig) => Promise<GroupInputs>> {
    const { store } = this.deps;
    const overrides = await store.overrides(now);
    const controls = await store.controls(now);
    const common = JSON.stringify([ssm, overrides, controls]);
    return async (g) => {
      // Not observed is not "no instances": the group's tick fails (recorded, retried next tick), the others go on.
      const why = unobserved.get(g.name);
      if (why !== undefined) throw why;
      const groupConflicts = conflicts.get(g.name) ?? [];
      const storeValues = await store.storeValues(g.name);
      return { observed: byGroup.get(g.name) ?? [], conflicts: groupConflicts, storeValues, overrides, controls, key: `${common}\u0000${JSON.stringify([storeValues, groupConflicts])}` };
    };
  }

  /**
   * What the next tick would do, without doing it (`fleetwarden plan`): the tick's own observe, read and plan steps,
   * then maintenance advanced against ports that only record what they are asked (previewPorts). Nothing is acquired,
   * sent or saved; every group is previewed, whoever holds its lease. `only`: the groups to preview (default all).
   */
  async preview(only?: ReadonlySet<string>): Promise<PreviewSummary> {
    const { config, store, clock } = this.deps;
    const now = clock.now();
    const exec: ExecutorDeps = { ...this.exec, deadline: now + config.controller.tickIntervalMs };
    const notes: HistoryEntry[] = [];
    const { byGroup, conflicts, ssm, delays, unobserved } = await this.observe(exec, notes);
    const inputsOf = await this.inputs(now, byGroup, conflicts, ssm, unobserved);
    const groups: GroupPreview[] = [];
    for (const g of config.groups) {
      if (only !== undefined && !only.has(g.name)) continue;
      const lease = await store.leaseHolder(g.name, now);
      try {
        const history: HistoryEntry[] = [];
        const seen = await this.readGroup(g, now, await inputsOf(g), ssm, exec, history);
        const p = this.planGroup(g, now, seen, delays);
        const maintenance = await this.previewMaintenance(g, now, seen, p, delays, exec);
        const active = seen.resolved.windows.active.map((a) => a.decl.name);
        groups.push({
          group: g.name,
          lease,
          plan: p,
          maintenance,
          windows: { entered: active.filter((n) => !seen.state.activeWindows.includes(n)), exited: seen.state.activeWindows.filter((n) => !active.includes(n)) },
          problems: seen.problems,
          // The fleet-wide reads' retries go with the first group, as a tick records them.
          retries: [...(groups.length === 0 ? notes : []), ...history].filter((h) => h.type === 'retry').map((h) => h.summary),
          error: null,
        });
      } catch (err) {
        groups.push({ group: g.name, lease, plan: null, maintenance: [], windows: { entered: [], exited: [] }, problems: null, retries: [], error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      }
    }
    return { at: now, groups };
  }

  /**
   * Maintenance as the tick would advance it (the same maintenanceTick and carryOutAfterSave), through ports that
   * record each script, probe, cancel and target-group change instead of sending it. Cancel requests are read, not taken.
   */
  private async previewMaintenance(g: GroupConfig, now: number, seen: GroupSeen, p: Plan, delays: ReadonlyMap<string, number>, exec: ExecutorDeps): Promise<MaintenanceStep[]> {
    const { store } = this.deps;
    const { state } = seen;
    const recorded: MaintenanceStep[] = [];
    const ports = previewPorts(recorded, now);
    const mdeps: MaintenanceDeps = { retry: <T>(what: string, h: HistoryEntry[], fn: () => Promise<T>) => withRetry(exec, what, g.name, h, fn), store, lb: ports.lb, runner: ports.runner, objects: null, tagPrefix: this.deps.config.naming.tagPrefix, deregistrationDelays: delays };
    const cancels = state.executions.some((e) => e.status === 'IN_PROGRESS') ? await store.cancelRequests(g.name) : [];
    const mt = await maintenanceTick(mdeps, maintenanceInputs(g, now, seen, p, cancels));
    const steps: MaintenanceStep[] = mt.history.filter((h) => h.type === 'maintenance' || h.type === 'error').map((h) => ({ instance: h.instanceId, message: h.summary }));
    await carryOutAfterSave(mdeps, g.name, mt.afterSave, now);
    return [...steps, ...recorded];
  }

  /** A group's tick failed: nothing of it was saved. Recorded, and the lease let go so a standby may try. */
  private async groupFailed(group: string, fence: GroupFence, err: unknown): Promise<string> {
    const now = this.deps.clock.now();
    this.cache.delete(group);
    this.rest.delete(group);
    const lost = err instanceof LeaseLostError;
    const message = err instanceof Error ? (lost ? err.message : `${err.name}: ${err.message}`) : String(err);
    this.lastErrors.set(group, { at: now, message, retryable: lost || errorKind(err) === 'retryable' });
    this.held.delete(group);
    if (lost) {
      this.emit({ type: 'lease', at: now, group, message });
      return message;
    }
    this.emit({ type: 'error', at: now, group, message: `tick failed: ${message}` });
    try {
      await this.deps.store.appendHistory([{ at: now, group, instanceId: null, type: 'error', summary: `tick failed: ${message}` }], fence.token);
      await this.deps.store.releaseLease(group, this.deps.owner);
    } catch {
      // The store itself is failing or the lease is gone: the failure is still in this tick's summary and events.
    }
    return message;
  }

  /** The last failed tick of each group that has not had a good one since. */
  groupErrors(): ReadonlyMap<string, GroupError> {
    return this.lastErrors;
  }

  /**
   * One group's tick, in its steps: read what the group knows, plan, act (everything but load-balancer changes),
   * note what happened in the history, save, carry out what waited for the save, report.
   */
  private async tickGroup(g: GroupConfig, now: number, inputs: GroupInputs, ssm: readonly SsmWindowInfo[], delays: ReadonlyMap<string, number>, carried: HistoryEntry[], fence: GroupFence, tickExec: ExecutorDeps): Promise<GroupTick> {
    // At rest and given the same as then: the same nothing would be decided, so nothing is (rest.ts). Retries and
    // errors carried from the tick's shared calls still go to the history.
    const rest = this.deps.skipAtRest === false ? undefined : this.rest.get(g.name);
    if (rest !== undefined && carried.length === 0 && now < rest.until && this.cache.get(g.name) === rest.state && rest.inputs.key === inputs.key && sameObservation(rest.inputs.observed, inputs.observed)) {
      return rest.tick;
    }
    this.rest.delete(g.name);
    const exec: ExecutorDeps = { ...tickExec, fence: () => fence.check() };
    const history: HistoryEntry[] = carried.map((h) => ({ ...h, group: g.name }));
    const seen = await this.readGroup(g, now, inputs, ssm, exec, history);
    const p = this.planGroup(g, now, seen, delays);
    await fence.check();
    const acted = await this.act(g, now, seen, p, delays, exec, history);
    const notes = this.noteTick(g, now, seen, p, history);
    const executionsNow = await this.saveGroup(g, now, seen, p, acted, notes.active, history, fence);
    await this.afterSave(g, now, p, acted, executionsNow, exec, history, fence);
    this.report(g, now, p, notes.events, history);
    const tick: GroupTick = { group: g.name, plan: p, windows: acted.allWindows, startAheadMs: seen.resolved.startAheadMs, maintenanceRunning: executionsNow.some((e) => e.status === 'IN_PROGRESS'), maintenanceOutOfService: heldInstances(executionsNow.filter(isOpen)).outOfService, problems: seen.problems.current };
    const saved = this.cache.get(g.name);
    const until = saved === undefined || history.length > 0 || acted.newHandles.length > 0 ? null : restUntil(saved, p, nextBoundary(acted.allWindows, g, seen.resolved.startAheadMs, now), now);
    if (saved !== undefined && until !== null && until > now) this.rest.set(g.name, { state: saved, inputs, until, tick });
    return tick;
  }

  /** Read: the stored state, results that arrived, the group's instances and windows, its resolved settings and problems. */
  private async readGroup(g: GroupConfig, now: number, inputs: GroupInputs, ssm: readonly SsmWindowInfo[], exec: ExecutorDeps, history: HistoryEntry[]): Promise<GroupSeen> {
    const { config, store } = this.deps;
    const { observed: observedInstances, conflicts } = inputs;
    const prefix = config.naming.tagPrefix;
    const state = this.cache.get(g.name) ?? (await store.loadGroup(g.name));
    const results = state.handles.length > 0 ? await withRetry(exec, 'command results', g.name, history, () => this.deps.runner.results(state.handles)) : { events: [], bypass: [], finished: [] };
    const inspected = inspectInstances(observedInstances, g, config.naming);
    for (const c of conflicts) {
      if (!inspected.quarantined.has(c.instanceId)) inspected.quarantined.set(c.instanceId, c.reason);
      inspected.problems.push(c.problem);
    }
    const instances = inspected.instances;
    const discovered = ssmWindowsForGroup(ssm, g.name, config.naming, now);
    // The subfleets the instances name, then those the file configures (the tag key spelled once, not per instance).
    const subfleetTag = `${prefix}:subfleet-name`;
    const named = new Set<string>();
    for (const i of instances) {
      const sub = i.tags[subfleetTag];
      if (sub !== undefined) named.add(sub);
    }
    for (const k of Object.keys(g.fileValues)) {
      const sub = /^fleets\.subfleets\.([^.]+)\./.exec(k)?.[1];
      if (sub !== undefined) named.add(sub);
    }
    const subfleets = [...named];
    const resolved = resolve({ group: g, now, subfleets, extraWindows: discovered.windows, storeValues: inputs.storeValues, overrides: inputs.overrides });
    const found: Problem[] = [...inspected.problems, ...discovered.problems];
    for (const b of resolved.windows.broken) {
      if (!found.some((p) => p.source === 'window' && p.subject === b.name && p.field === 'Schedule')) found.push({ source: 'window', subject: b.name, field: 'Schedule', value: '', reason: `cannot be evaluated (${b.error ?? 'invalid'}); no stop or drain in group ${g.name} until it is fixed` });
    }
    const problems = reconcileProblems(state.problems, found, now);
    return { state, results, instances, quarantined: inspected.quarantined, discovered, resolved, problems, controls: inputs.controls };
  }

  /** Plan: the pure planner on what was read. */
  private planGroup(g: GroupConfig, now: number, seen: GroupSeen, delays: ReadonlyMap<string, number>): Plan {
    const { state, results, resolved, discovered } = seen;
    return plan({
      config: this.deps.config,
      group: g,
      resolved: { ...resolved, warnings: [...resolved.warnings, ...discovered.warnings] },
      instances: seen.instances,
      records: state.records,
      workload: state.workload,
      controls: seen.controls,
      eventResults: results.events,
      bypassResults: results.bypass,
      failures: state.failures,
      maintenance: heldInstances(state.executions).held,
      quarantined: seen.quarantined,
      deregistrationDelays: delays,
      now,
    });
  }

  /** Act: the plan's commands except load-balancer changes, and maintenance (whose load-balancer changes also wait). */
  private async act(g: GroupConfig, now: number, seen: GroupSeen, p: Plan, delays: ReadonlyMap<string, number>, exec: ExecutorDeps, history: HistoryEntry[]): Promise<GroupActs> {
    const { store } = this.deps;
    const { state, resolved, instances } = seen;
    const prefix = this.deps.config.naming.tagPrefix;
    // A stop or drain is checked again against the windows at the instant it is sent: a tick slowed past a window's
    // start (throttling, a starved CPU) must not carry out what was decided before it.
    const allWindows = [...g.windows, ...seen.discovered.windows];
    // Looked up only for a stop or drain being sent: the instances by id are gathered then, not on every tick.
    let byId: Map<string, ObservedInstance> | null = null;
    const fleetOf = (id: string): FleetRef => {
      byId ??= new Map(instances.map((i) => [i.id, i]));
      const sub = byId.get(id)?.tags[`${prefix}:subfleet-name`];
      return sub === undefined || sub === '' ? { kind: 'main' } : { kind: 'subfleet', name: sub };
    };
    const windowsAt = windowStateOver(allWindows, resolved.startAheadMs);
    const withheld = (id: string): string | null => windowsAt(this.deps.clock.now()).stopBlocker(fleetOf(id));
    // Load-balancer changes are written ahead, as maintenance's are: carried out only once the tick that decides them
    // (a drain's record of the target groups it left) is saved, so a controller killed in between never leaves an
    // instance out of its target groups with no record; the planner repeats them until the target groups show them.
    const ex = await execute(exec, g.name, p.commands.filter((c) => !isLb(c)), resolved.settings.scriptTimeoutMs, withheld);
    history.push(...ex.history);
    const mdeps: MaintenanceDeps = { retry: <T>(what: string, h: HistoryEntry[], fn: () => Promise<T>) => withRetry(exec, what, g.name, h, fn), store, lb: this.deps.lb, runner: this.deps.runner, objects: this.deps.objects ?? null, tagPrefix: prefix, deregistrationDelays: delays };
    // Cancel requests are only looked for while an execution runs (no cost otherwise).
    const cancels = state.executions.some((e) => e.status === 'IN_PROGRESS') ? await store.cancelRequests(g.name) : [];
    const mt = await maintenanceTick(mdeps, maintenanceInputs(g, now, seen, p, cancels));
    history.push(...mt.history);
    return { ex, mt, mdeps, cancels, withheld, allWindows, scriptTimeoutMs: resolved.settings.scriptTimeoutMs, newHandles: [...ex.handles, ...mt.handles] };
  }

  /** Note: windows entered and left, problems found and cleared, transitions and commands — into the history. */
  private noteTick(g: GroupConfig, now: number, seen: GroupSeen, p: Plan, history: HistoryEntry[]): { active: string[]; events: ControllerEvent[] } {
    const { state, resolved, problems } = seen;
    const active = resolved.windows.active.map((a) => a.decl.name);
    this.activeWindows.set(g.name, resolved.windows.active.map((a) => ({ name: a.decl.name, start: a.window.start, end: a.window.end })));
    const windowEvents: ControllerEvent[] = [
      ...active.filter((n) => !state.activeWindows.includes(n)).map((name): ControllerEvent => ({ type: 'window', at: now, group: g.name, name, state: 'enter' })),
      ...state.activeWindows.filter((n) => !active.includes(n)).map((name): ControllerEvent => ({ type: 'window', at: now, group: g.name, name, state: 'exit' })),
    ];
    for (const w of windowEvents) if (w.type === 'window') history.push({ at: now, group: g.name, instanceId: null, type: 'window', summary: `window ${w.name} ${w.state === 'enter' ? 'entered' : 'exited'}` });
    const problemEvents: ControllerEvent[] = [
      ...problems.appeared.map((problem): ControllerEvent => ({ type: 'problem', at: now, group: g.name, state: 'found', problem })),
      ...problems.cleared.map((problem): ControllerEvent => ({ type: 'problem', at: now, group: g.name, state: 'cleared', problem })),
    ];
    for (const e of problemEvents) {
      if (e.type !== 'problem') continue;
      history.push({ at: now, group: g.name, instanceId: e.problem.source === 'instance' ? e.problem.subject : null, type: 'problem', summary: `${e.state === 'found' ? 'problem' : 'problem cleared'}: ${describeProblem(e.problem)}`, data: { state: e.state, ...e.problem } });
    }
    for (const t of p.transitions) history.push({ at: t.at, group: g.name, instanceId: t.instanceId, type: 'transition', summary: `${t.from} → ${t.to}: ${t.reason}`, data: { from: t.from, to: t.to, reason: t.reason } });
    // One line per instance, so an instance's history shows every command it was part of.
    for (const c of p.commands) for (const id of c.instances) history.push({ at: now, group: g.name, instanceId: id, type: 'command', summary: `${c.kind === 'run-event' ? `run-event ${c.event}` : c.kind} ${id}: ${c.reason}`, data: { command: c.kind, batch: c.instances.length } });
    return { active, events: [...windowEvents, ...problemEvents] };
  }

  /** Save: what changed, in one write under the lease; the cache follows the store. Returns the executions as they now are. */
  private async saveGroup(g: GroupConfig, now: number, seen: GroupSeen, p: Plan, acted: GroupActs, active: string[], history: HistoryEntry[], fence: GroupFence): Promise<WindowExecution[]> {
    const { state, results, problems } = seen;
    const { ex, mt, newHandles } = acted;
    // Only what changed is written: the planner hands back the very record it did not touch, and a new one only when
    // it changed something (comparing their contents as well cost more than the rare identical write it saved).
    const next = new Map(p.records.map((r) => [r.instanceId, r]));
    const changed = p.records.filter((r) => state.records.get(r.instanceId) !== r);
    const removed = [...state.records.keys()].filter((id) => !next.has(id));
    const finished = new Set(results.finished);
    const changedIds = new Set(mt.executions.map((e) => e.id));
    const executionsNow = [...state.executions.filter((e) => !changedIds.has(e.id)), ...mt.executions];
    const executions = executionsNow.filter(isOpen);
    try {
      await this.deps.store.saveTick({
        group: g.name,
        at: now,
        records: changed,
        removed,
        workload: p.workload,
        transitions: p.transitions,
        history,
        newHandles,
        finishedHandles: results.finished,
        failures: ex.failures,
        consumedFailures: true,
        activeWindows: active,
        executions: mt.executions,
        problems: problems.current,
        lease: fence.token,
        fence: () => fence.check(),
      });
      this.cache.set(g.name, { records: next, workload: p.workload, handles: [...state.handles.filter((h) => !finished.has(h.id)), ...newHandles], failures: ex.failures, activeWindows: active, executions, problems: problems.current });
    } catch (err) {
      this.cache.delete(g.name);
      throw err;
    }
    return executionsNow;
  }

  /** After the save: settled cancel requests forgotten, and the load-balancer changes the saved tick records carried out. */
  private async afterSave(g: GroupConfig, now: number, p: Plan, acted: GroupActs, executionsNow: readonly WindowExecution[], exec: ExecutorDeps, history: HistoryEntry[], fence: GroupFence): Promise<void> {
    const { store } = this.deps;
    // A cancel request is forgotten once its execution carries it (saved above), or has nothing left to cancel.
    for (const c of acted.cancels) {
      const e = executionsNow.find((x) => x.id === c.execution);
      if (e === undefined || e.cancel !== undefined || e.status !== 'IN_PROGRESS') await store.removeCancelRequest(c.execution);
    }
    // Written ahead: the load balancer changes only now that the records and executions saying so are saved.
    const lbAfter = await execute(exec, g.name, p.commands.filter(isLb), acted.scriptTimeoutMs, acted.withheld);
    const after = [...lbAfter.history, ...(await carryOutAfterSave(acted.mdeps, g.name, acted.mt.afterSave, now))];
    if (after.length > 0) {
      await store.appendHistory(after, fence.token);
      history.push(...after);
    }
  }

  /** Report: the tick's events, in the order they happened. */
  private report(g: GroupConfig, now: number, p: Plan, noted: readonly ControllerEvent[], history: readonly HistoryEntry[]): void {
    for (const e of noted) this.emit(e);
    for (const t of p.transitions) this.emit({ type: 'transition', at: t.at, group: g.name, instance: t.instanceId, from: t.from, to: t.to, reason: t.reason });
    for (const c of p.commands) this.emit({ type: 'command', at: now, group: g.name, command: c.kind === 'run-event' ? `run-event ${c.event}` : c.kind, instances: c.instances, reason: c.reason });
    for (const h of history) {
      if (h.type === 'retry' || h.type === 'error') this.emit({ type: h.type, at: h.at, group: g.name, message: h.summary, instance: h.instanceId });
      else if (h.type === 'maintenance') this.emit({ type: 'maintenance', at: h.at, group: g.name, instance: h.instanceId, message: h.summary, ...(h.data === undefined ? {} : { data: h.data }) });
    }
  }

  /** The instance as the last tick observed it (undefined before the first tick, or when not listed since). */
  observedInstance(id: string): ObservedInstance | undefined {
    return this.seen.get(id);
  }

  /** The window periods active in a group at the last tick (SSM-discovered ones included). */
  windowsOf(group: string): readonly { readonly name: string; readonly start: number; readonly end: number }[] | undefined {
    return this.activeWindows.get(group);
  }

  /** Until when the group, as its last tick here found it, is at rest (rest.ts); null when it is not. */
  restingUntil(group: string): number | null {
    return this.rest.get(group)?.until ?? null;
  }

  /**
   * Gives up every lease this controller holds (a clean shutdown lets another controller take over at once), and
   * forgets what it cached and observed: a Lambda worker lets its group go after each tick, and its warm container,
   * handed group after group, would otherwise keep the last observation of every instance it ever listed.
   */
  async release(): Promise<void> {
    // Every lease is tried, and everything forgotten, even when the store fails to let one go (it lapses by its TTL).
    const released = await Promise.allSettled([...this.held.keys()].map((g) => this.deps.store.releaseLease(g, this.deps.owner)));
    this.held.clear();
    this.cache.clear();
    this.rest.clear();
    this.seen.clear();
    const failed = released.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failed.length === 1) throw failed[0];
    if (failed.length > 1) throw new AggregateError(failed, `${failed.length} leases could not be let go`);
  }

  static describe(e: ControllerEvent): string {
    const at = formatInstant(e.at);
    switch (e.type) {
      case 'transition':
        return `${at}  ${e.group}  ${e.instance}  ${e.from} → ${e.to}: ${e.reason}`;
      case 'command':
        return `${at}  ${e.group}  ${e.command} ${e.instances.join(', ')}: ${e.reason}`;
      case 'window':
        return `${at}  ${e.group}  window ${e.name} ${e.state === 'enter' ? 'entered' : 'exited'}`;
      case 'retry':
      case 'error':
      case 'lease':
        return `${at}  ${e.group}  ${e.type}: ${e.message}`;
      case 'maintenance':
        return `${at}  ${e.group}  ${e.instance === null ? '' : `${e.instance}  `}maintenance: ${e.message}`;
      case 'problem':
        return `${at}  ${e.group}  ${e.state === 'found' ? 'problem' : 'problem cleared'}: ${describeProblem(e.problem)}`;
    }
  }
}
