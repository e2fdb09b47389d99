import type { GroupConfig, WindowDecl } from '../config/config.js';
import { windowStartAhead, type WindowState, windowStateAt } from '../config/resolve.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import type { InstanceRecord, ObservedInstance, TargetHealth } from '../domain/model.js';
import type { Plan } from '../planner/types.js';
import type { GroupState } from '../ports/index.js';

/**
 * A group at rest: its last tick had nothing to do and nothing in flight, so until the next boundary of its windows
 * or schedules a tick given the same observation and the same stored settings, overrides and controls would decide
 * the same nothing again. Such a tick is skipped (no resolve, plan, maintenance step or store write): the cost of a
 * steady tick follows what changed. `simulate` has always jumped over the same quiet stretches (src/app/simulate.ts).
 */

/** States an instance stays in by itself: anything else has a step or a timeout ahead. */
export const STABLE: ReadonlySet<LifecycleState> = new Set(['running', 'stopped', 'excluded']);

/** Whether nothing about this record moves with time alone (a pending check, notice, event, back-off or issue). */
export function recordAtRest(r: InstanceRecord): boolean {
  if (!STABLE.has(r.state) || r.issueSince !== undefined || r.periodNotice !== undefined || r.bypassCheckSentAt !== undefined) return false;
  const events = r.events;
  if (events !== undefined) for (const k in events) if (events[k as keyof typeof events]?.status === 'sent') return false;
  return true;
}

/**
 * The next instant after `now` at which a window or schedule of the group starts (less its start-ahead), a window's
 * own start (its tasks begin) or a window period ends; Infinity when there is none; `now` when one cannot be
 * evaluated (nothing may be skipped then).
 */
export function nextBoundary(windows: readonly WindowDecl[], group: Pick<GroupConfig, 'schedules'>, startAheadMs: number, now: number): number {
  let next = Infinity;
  const schedules = [...windows.flatMap((w) => (w.schedule ? [{ s: w.schedule, ahead: windowStartAhead(w, startAheadMs) }] : [])), ...group.schedules.map((s) => ({ s: s.schedule, ahead: startAheadMs }))];
  try {
    for (const { s, ahead } of schedules) {
      const [o] = s.next(now + ahead, 1);
      if (o) next = Math.min(next, o.start - ahead);
      const [own] = s.next(now, 1);
      if (own) next = Math.min(next, own.start);
      if (s.hasDuration) {
        const w = s.windowAt(now, ahead);
        if (w) next = Math.min(next, w.end);
      }
    }
  } catch {
    return now;
  }
  return next;
}

/**
 * `windowStateAt` for the instants a tick reads from its clock as it goes on (each stop and drain is checked again
 * just before it is sent): evaluated once per instant, not once per instance. On a virtual clock (`simulate`, the
 * benchmarks) a tick is one instant; on a real one the evaluation (~10 µs for a few windows) is small beside the
 * calls between two checks. (Keeping it until the next boundary measured slower: finding that boundary costs ten
 * evaluations.)
 */
export function windowStateOver(windows: readonly WindowDecl[], startAheadMs: number): (now: number) => WindowState {
  let state: WindowState | undefined;
  let at = Number.NaN;
  return (now) => {
    if (state === undefined || now !== at) {
      state = windowStateAt(windows, now, startAheadMs);
      at = now;
    }
    return state;
  };
}

/**
 * Until when a group whose tick ended with `state` and `plan` may be left alone (given the same inputs), or null
 * when it is not at rest: a command or transition, a record not at rest, an execution, a handle, a failure or a
 * workload in progress, or a record the tick changed.
 */
export function restUntil(state: GroupState, p: Plan, boundary: number, now: number): number | null {
  if (p.commands.length > 0 || p.transitions.length > 0) return null;
  if (state.handles.length > 0 || state.failures.length > 0 || state.executions.length > 0 || state.workload !== undefined || p.workload !== undefined) return null;
  if (p.records.length !== state.records.size) return null;
  let until = boundary;
  for (const r of p.records) {
    // The planner hands back the very record it did not touch.
    if (state.records.get(r.instanceId) !== r || !recordAtRest(r)) return null;
    if (r.errorUntil !== undefined && r.errorUntil > now) until = Math.min(until, r.errorUntil);
  }
  return until;
}

/** Whether two records of strings (tags, target health) say the same. */
export function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  // Counted rather than listed (Object.keys): this compares every instance's tags and target health on every tick.
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

/** Whether two observations of a group's instances are the same, in the same order (a reordering only costs a full tick). */
export function sameObservation(a: readonly ObservedInstance[], b: readonly ObservedInstance[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as ObservedInstance;
    const y = b[i] as ObservedInstance;
    if (x === y) continue; // the tick kept the last one's object: nothing of it changed (Reconciler.observe)
    if (x.id !== y.id || x.power !== y.power || x.health !== y.health || x.zone !== y.zone || x.instanceType !== y.instanceType) return false;
    if (!sameRecord(x.tags, y.tags) || !sameRecord(x.targets, y.targets)) return false;
  }
  return true;
}

/** The target health of an instance in no target group: one shared empty record, never changed in place. */
const NO_TARGETS: Readonly<Record<string, TargetHealth>> = Object.freeze({});

/**
 * The tick's observation: each listed instance with its target health. An instance observed exactly as the last tick
 * saw it (`last`, by id: power, health, zone, type, tags and target health all the same) keeps that tick's object:
 * no new garbage that lives a whole tick (the memory a steady controller holds), and a group at rest is recognised by
 * reference (sameObservation). Otherwise spelled out rather than spread (one object shape).
 *
 * `last` is brought up to date in place, with only what changed: at 100,000 instances, emptying and refilling it
 * every tick cost more than the join itself. `complete`: the listing is the whole fleet, so an instance it does not
 * have is gone and leaves `last` (a listing of some groups only adds).
 */
export function joinObservation(listed: readonly ObservedInstance[], health: ReadonlyMap<string, Readonly<Record<string, TargetHealth>>>, last: Map<string, ObservedInstance>, complete: boolean): ObservedInstance[] {
  const joined = listed.map((i): ObservedInstance => {
    const targets = health.get(i.id) ?? NO_TARGETS;
    const was = last.get(i.id);
    if (was !== undefined && was.power === i.power && was.health === i.health && was.zone === i.zone && was.instanceType === i.instanceType && sameRecord(was.tags, i.tags) && sameRecord(was.targets, targets)) return was;
    const now: ObservedInstance = { id: i.id, tags: i.tags, zone: i.zone, instanceType: i.instanceType, power: i.power, health: i.health, targets };
    last.set(i.id, now);
    return now;
  });
  // Every listed id is in `last` now: more entries than listed ids means some are gone (rare: a fleet that shrank).
  if (complete && last.size > joined.length) {
    const ids = new Set(joined.map((i) => i.id));
    for (const id of last.keys()) if (!ids.has(id)) last.delete(id);
  }
  return joined;
}
