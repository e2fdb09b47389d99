/**
 * Who was out of service when, in one maintenance execution (issue 15): from the execution as GET
 * /v1/executions/{id} answers it to the shared timeline's input (src/web/timeline.ts), so the rolling batches read
 * the same way as a group's timeline — the window's period on top, then one row per instance with a bar for each
 * invocation. A drain task's invocation takes its instance out of service when it starts (startedAt) and puts it
 * back before it ends (endedAt); one that failed is left out (outOfService still true) from its end on; one still
 * running is out until `now`. A task that does not drain runs in service ("task, in service"). Pure: no DOM, no clock.
 */
import { STATE_STYLE, type StateStyle, type TimelineChange, type TimelineInput } from './timeline.js';

/** The parts of an execution's API shape the picture uses (ISO instants). */
export interface ExecutionRow {
  readonly group: string;
  readonly window: string;
  readonly start: string;
  readonly end: string;
  readonly lastTaskStart?: string | undefined;
  readonly startedAt?: string | undefined;
  readonly endedAt?: string | null | undefined;
  readonly tasks: readonly {
    readonly name: string;
    readonly invocations: readonly {
      readonly instance: string;
      readonly status: string;
      readonly startedAt: string;
      readonly endedAt: string | null;
      readonly outOfService: boolean;
      readonly drained?: boolean | undefined;
    }[];
  }[];
}

export const IN_SERVICE = 'in service';
export const OUT_OF_SERVICE = 'out of service';
export const LEFT_OUT = 'left out';
export const TASK_IN_SERVICE = 'task, in service';

/** The lifecycle palette's meanings, reused: out of service looks like draining, left out like unuseable. */
export const OUTAGE_PALETTE: Readonly<Record<string, StateStyle>> = {
  [IN_SERVICE]: STATE_STYLE['running'] as StateStyle,
  [OUT_OF_SERVICE]: STATE_STYLE['draining'] as StateStyle,
  [LEFT_OUT]: STATE_STYLE['unuseable'] as StateStyle,
  [TASK_IN_SERVICE]: STATE_STYLE['starting'] as StateStyle,
};

/** The timeline of one execution's invocations: [its start (or the window's), its end (or now)]. */
export function outageInput(e: ExecutionRow, now: number): TimelineInput {
  const t = (iso: string): number => Date.parse(iso);
  const start = t(e.start);
  const end = t(e.end);
  const invocations = e.tasks.flatMap((task) => task.invocations.map((i) => ({ task: task.name, ...i, from: t(i.startedAt), until: i.endedAt === null ? null : t(i.endedAt) })));
  const from = Math.min(start, e.startedAt === undefined ? start : t(e.startedAt), ...invocations.map((i) => i.from));
  const lastSeen = Math.max(end, ...invocations.map((i) => i.until ?? now), ...(invocations.some((i) => i.until === null || i.outOfService) ? [now] : []));
  const to = e.endedAt !== null && e.endedAt !== undefined && !invocations.some((i) => i.outOfService) ? Math.max(lastSeen, t(e.endedAt)) : lastSeen;
  const byInstance = new Map<string, typeof invocations>();
  for (const i of invocations) byInstance.set(i.instance, [...(byInstance.get(i.instance) ?? []), i]);
  const instances = [...byInstance]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([id, list]) => {
      const changes: TimelineChange[] = [];
      for (const i of [...list].sort((a, b) => a.from - b.from)) {
        const drained = i.drained === true;
        changes.push({ at: i.from, state: drained ? OUT_OF_SERVICE : TASK_IN_SERVICE, reason: `${i.task}: ${drained ? 'taken out of service' : 'ran in service'} (${i.status})` });
        if (i.until === null) continue; // still running: the bar reaches the end of the range
        if (i.outOfService) changes.push({ at: i.until, state: LEFT_OUT, reason: `${i.task}: ${i.status}, left out of service` });
        else changes.push({ at: i.until, state: IN_SERVICE, reason: `${i.task}: ${drained ? 'back in service' : 'done'} (${i.status})` });
      }
      return { id, initial: IN_SERVICE, changes };
    });
  return {
    group: `${e.group} / ${e.window}`,
    from,
    to: Math.max(to, from + 60_000),
    periods: [{ window: e.window, activeFrom: start, start, end, lastTaskStart: e.lastTaskStart === undefined ? undefined : t(e.lastTaskStart) }],
    instances,
    now,
    palette: OUTAGE_PALETTE,
  };
}
