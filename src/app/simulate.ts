import type { FleetConfig } from '../config/config.js';
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
 * transition it ticks at the configured interval; when the fleet is at rest it jumps straight to the next event
 * (a window boundary or a simulated completion), so a week of simulated time costs only its busy moments.
 */
export async function simulate(config: FleetConfig, from: number, to: number, onEvent: (e: ControllerEvent) => void): Promise<SimulationReport> {
  const { clock, sleep } = virtualTime(from);
  let retries = 0;
  const counting = (e: ControllerEvent): void => {
    if (e.type === 'retry') retries++;
    onEvent(e);
  };
  const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'simulate', onEvent: counting, retry: { attempts: 8, baseMs: 500, maxMs: 30_000 } });
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
    const factsOf = new WeakMap<GroupTick, { readonly counts: ReadonlyMap<LifecycleState, number>; readonly busy: boolean }>();
    const facts = (g: GroupTick): { readonly counts: ReadonlyMap<LifecycleState, number>; readonly busy: boolean } => {
      let f = factsOf.get(g);
      if (f === undefined) {
        const counts = new Map<LifecycleState, number>();
        let busy = g.plan.commands.length > 0 || g.plan.transitions.length > 0 || g.maintenanceRunning;
        for (const r of g.plan.records) {
          counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
          if (!busy && !recordAtRest(r)) busy = true;
        }
        f = { counts, busy };
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
          }
        }
        if (facts(g).busy) busy = true;
      }
      if (now >= to) break;
      let next = now + interval;
      if (!busy) next = Math.max(next, Math.min(nextBoundaryOf(summary, config, now), sim.nextEventAfter(now) ?? Infinity));
      clock.set(Math.min(next, to));
    }
    addTime(lastCounts, to - lastAt);
    return { from, to, ticks, starts, stops, forcedStops, timeInState, retries };
  } finally {
    await ctl.close();
  }
}
