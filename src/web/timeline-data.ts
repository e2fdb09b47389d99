/**
 * From the API's shapes (or the simulator's events) to the timeline's input: one function for the dashboard (which
 * reads /v1/windows and /v1/history) and for `simulate --report` (which collects the run's transition events), so
 * both draw the same picture from the same facts. Pure: no DOM, no clock.
 */
import type { TimelineInput, TimelineInstance, TimelinePeriod } from './timeline.js';

/** A window period as /v1/windows lists it (ISO instants); lastTaskStart where the caller knows the cutoff. */
export interface PeriodRow {
  readonly group: string;
  readonly window: string;
  readonly description?: string | null;
  readonly activeFrom: string;
  readonly start: string;
  readonly end: string;
  readonly lastTaskStart?: string | undefined;
}

/** One lifecycle transition of an instance (the history's data, or a controller event). */
export interface TransitionRow {
  readonly at: number;
  readonly group: string;
  readonly instance: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

/** The timeline of `group` over [from, to): its periods, and each instance that changed state, in id order. */
export function timelineInput(group: string, from: number, to: number, periods: readonly PeriodRow[], transitions: readonly TransitionRow[], now?: number): TimelineInput {
  const ps: TimelinePeriod[] = periods
    .filter((p) => p.group === group)
    .map((p) => ({ window: p.window, activeFrom: Date.parse(p.activeFrom), start: Date.parse(p.start), end: Date.parse(p.end), lastTaskStart: p.lastTaskStart === undefined ? undefined : Date.parse(p.lastTaskStart), description: p.description ?? null }));
  const byInstance = new Map<string, TransitionRow[]>();
  for (const t of transitions) if (t.group === group) byInstance.set(t.instance, [...(byInstance.get(t.instance) ?? []), t]);
  const instances: TimelineInstance[] = [...byInstance]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([id, ts]) => {
      const sorted = [...ts].sort((a, b) => a.at - b.at);
      return { id, initial: sorted[0]?.from, changes: sorted.map((t) => ({ at: t.at, state: t.to, reason: t.reason })) };
    });
  return { group, from, to, periods: ps, instances, now };
}
