import type { FleetConfig } from '../config/config.js';
import type { SimulatorSeed } from '../config/simulator-spec.js';
import type { ExecutionStore } from '../ports/index.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import type { ControllerEvent, GroupTick, TickSummary } from '../reconciler/reconciler.js';
import { nextBoundary, recordAtRest } from '../reconciler/rest.js';
import { openSimulatedController, virtualTime } from './compose.js';

export interface SimulationReport {
  readonly from: number;
  readonly to: number;
  readonly ticks: number;
  readonly starts: number;
  readonly stops: number;
  readonly forcedStops: number;
  /** Instance-milliseconds spent in each lifecycle state. */
  readonly timeInState: Readonly<Record<string, number>>;
  readonly retries: number;
  /** Window periods entered (every group's `window enter` events). */
  readonly windowsEntered: number;
  /** Instances a stop was issued for while one of their group's windows was active (a window asks for them up). */
  readonly stopsInWindow: number;
  /** Maintenance task invocations that ran (dispatched to an instance), and how they ended. */
  readonly tasks: { readonly run: number; readonly succeeded: number; readonly failed: number };
  /** The most instances out of service at one tick: draining, unuseable, or taken out by a maintenance task. */
  readonly maxOutOfService: number;
}

export interface SimulateOptions {
  /** Start from this world (a snapshot of a real fleet) instead of the configuration's simulator section. */
  readonly seed?: SimulatorSeed;
  /**
   * Tick at every interval, as a running controller does, instead of jumping over quiet stretches: the reference the
   * jumps are tested against (they must change nothing but the number of ticks).
   */
  readonly everyInterval?: boolean;
}

const OUT_OF_SERVICE: ReadonlySet<LifecycleState> = new Set(['draining', 'unuseable']);

/**
 * Instances out of service after a tick: those draining or unuseable (from each group's state counts), and those a
 * running maintenance execution holds out (as the tick left its executions: no store read per tick).
 */
function outOfService(summary: TickSummary, counts: (g: GroupTick) => ReadonlyMap<LifecycleState, number>): number {
  let n = 0;
  for (const g of summary.groups) {
    if (!g.maintenanceRunning) {
      for (const state of OUT_OF_SERVICE) n += counts(g).get(state) ?? 0;
      continue;
    }
    const out = new Set(g.maintenanceOutOfService);
    for (const r of g.plan.records) if (OUT_OF_SERVICE.has(r.state)) out.add(r.instanceId);
    n += out.size;
  }
  return n;
}

/** Every maintenance task invocation the simulation's store recorded. */
async function taskCounts(store: ExecutionStore): Promise<SimulationReport['tasks']> {
  let run = 0;
  let succeeded = 0;
  let failed = 0;
  let before: string | undefined;
  for (;;) {
    const page = await store.executions({ limit: 500, before });
    for (const e of page) {
      for (const t of e.tasks) {
        for (const i of t.invocations) {
          if (i.runs === 0) continue;
          run++;
          if (i.status === 'SUCCESS') succeeded++;
          else if (i.status === 'FAILED' || i.status === 'TIMED_OUT') failed++;
        }
      }
    }
    if (page.length < 500) return { run, succeeded, failed };
    before = page.at(-1)?.id;
  }
}

/** The next instant a window or schedule of any group starts (less its start-ahead) or ends, after `now`. */
function nextBoundaryOf(summary: TickSummary, config: FleetConfig, now: number): number {
  let next = Infinity;
  for (const t of summary.groups) {
    const g = config.groups.find((x) => x.name === t.group);
    if (g !== undefined) next = Math.min(next, nextBoundary(t.windows, g, t.startAheadMs, now));
  }
  return next;
}

/**
 * Runs the real reconciler against the simulator on a virtual clock, from `from` to `to`. While anything is in
 * transition it ticks at the configured interval; when the fleet is at rest it jumps to the tick at or after the next
 * event (a window boundary, a simulated completion, the end of an error back-off), so a week of simulated time costs
 * only its busy moments. The ticks skipped are ticks at rest (rest.ts): the jumps change nothing but the tick count
 * (test/simulator/jump.test.ts).
 */
export async function simulate(config: FleetConfig, from: number, to: number, onEvent: (e: ControllerEvent) => void, options: SimulateOptions = {}): Promise<SimulationReport> {
  const { clock, sleep } = virtualTime(from);
  let retries = 0;
  let windowsEntered = 0;
  let maxOutOfService = 0;
  let stopsInWindow = 0;
  /** Each group's active window periods, as its window events say. */
  const inWindow = new Map<string, Set<string>>();
  const counting = (e: ControllerEvent): void => {
    if (e.type === 'retry') retries++;
    if (e.type === 'window') {
      const active = inWindow.get(e.group) ?? new Set<string>();
      if (e.state === 'enter') {
        windowsEntered++;
        active.add(e.name);
      } else active.delete(e.name);
      inWindow.set(e.group, active);
    }
    onEvent(e);
  };
  const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', keepHistory: false, owner: 'simulate', onEvent: counting, retry: { attempts: 8, baseMs: 500, maxMs: 30_000 }, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  const timeInState: Record<string, number> = {};
  let starts = 0;
  let stops = 0;
  let forcedStops = 0;
  let ticks = 0;
  const interval = config.controller.tickIntervalMs;
  try {
    const sim = ctl.simulator;
    if (!sim) throw new Error('simulate needs the simulator');
    // What a group's tick says about its instances; a group at rest hands back the same tick, counted once.
    // backOffs: when records' error back-offs end (a record at rest is acted on again then).
    type Facts = { readonly counts: ReadonlyMap<LifecycleState, number>; readonly busy: boolean; readonly backOffs: readonly number[] };
    const factsOf = new WeakMap<GroupTick, Facts>();
    const facts = (g: GroupTick): Facts => {
      let f = factsOf.get(g);
      if (f === undefined) {
        const counts = new Map<LifecycleState, number>();
        let busy = g.plan.commands.length > 0 || g.plan.transitions.length > 0 || g.maintenanceRunning;
        const backOffs: number[] = [];
        for (const r of g.plan.records) {
          counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
          if (!busy && !recordAtRest(r)) busy = true;
          if (r.errorUntil !== undefined) backOffs.push(r.errorUntil);
        }
        f = { counts, busy, backOffs };
        factsOf.set(g, f);
      }
      return f;
    };
    const addTime = (counts: readonly ReadonlyMap<LifecycleState, number>[], ms: number): void => {
      for (const c of counts) for (const [state, n] of c) timeInState[state] = (timeInState[state] ?? 0) + n * ms;
    };
    let lastCounts: ReadonlyMap<LifecycleState, number>[] = [];
    let lastAt = from;
    for (;;) {
      const summary = await ctl.reconciler.tick();
      ticks++;
      const now = summary.at;
      addTime(lastCounts, now - lastAt);
      lastAt = now;
      lastCounts = summary.groups.map((g) => facts(g).counts);
      let busy = false;
      for (const g of summary.groups) {
        for (const c of g.plan.commands) {
          if (c.kind === 'start') starts += c.instances.length;
          if (c.kind === 'stop') {
            stops += c.instances.length;
            if (c.force) forcedStops += c.instances.length;
            if ((inWindow.get(g.group)?.size ?? 0) > 0) stopsInWindow += c.instances.length;
          }
        }
        if (facts(g).busy) busy = true;
      }
      maxOutOfService = Math.max(maxOutOfService, outOfService(summary, (g) => facts(g).counts));
      if (now >= to) break;
      let next = now + interval;
      if (!busy && options.everyInterval !== true) {
        let wake = Math.min(nextBoundaryOf(summary, config, now), sim.nextEventAfter(now) ?? Infinity);
        for (const g of summary.groups) for (const u of facts(g).backOffs) if (u > now) wake = Math.min(wake, u);
        // To the first tick at or after it on the interval's grid (from + k·interval), where a controller ticking at
        // every interval would first see it: a jump to the instant itself would act earlier than that controller.
        if (wake > next) next = Number.isFinite(wake) ? from + Math.ceil((wake - from) / interval) * interval : to;
      }
      clock.set(Math.min(next, to));
    }
    addTime(lastCounts, to - lastAt);
    return { from, to, ticks, starts, stops, forcedStops, timeInState, retries, windowsEntered, stopsInWindow, tasks: await taskCounts(ctl.store), maxOutOfService };
  } finally {
    await ctl.close();
  }
}
