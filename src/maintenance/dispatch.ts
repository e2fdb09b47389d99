import type { Count } from '../domain/counts.js';

export { parseMaxConcurrency, parseMaxErrors } from '../domain/counts.js';

/**
 * Maintenance-window task dispatch, as SSM runs it (docs/maintenance.md#dispatch), as pure functions of the
 * task's state and `now`: which targets get an invocation next, which are cancelled, and the task's status.
 */

/** Percentages of the target set round down, with at least 1 for concurrency (CloudFormation StackSets' rule). */
export function concurrencyOf(limit: Count, targets: number): number {
  return limit.kind === 'percent' ? Math.max(1, Math.floor((limit.value * targets) / 100)) : limit.value;
}

/** Errors allowed: N, or pct × targets rounded down. Dispatch stops when errors exceed it (the (N+1)th error). */
export function allowedErrors(limit: Count, targets: number): number {
  return limit.kind === 'percent' ? Math.floor((limit.value * targets) / 100) : limit.value;
}

/**
 * One spelling for every status of an execution, a task and an invocation: SSM's, upper case with underscores
 * (docs/maintenance.md#execution-statuses). Executions stored before this spelling (`in-progress`, `timed-out`, …)
 * are read in it (ports/schemas.ts).
 */
export const INVOCATION_STATUSES = ['PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED', 'TIMED_OUT', 'UNDELIVERABLE', 'CANCELLED', 'TERMINATED'] as const;
export type InvocationStatus = (typeof INVOCATION_STATUSES)[number];

/**
 * Failed and Execution Timed Out count against MaxErrors; Undeliverable and the like do not
 * (docs/maintenance.md#execution-statuses).
 */
export function countsAsError(s: InvocationStatus): boolean {
  return s === 'FAILED' || s === 'TIMED_OUT';
}

export type TaskStatus = 'PENDING' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'TIMED_OUT';

export interface TaskSpec {
  readonly name: string;
  readonly priority: number;
  readonly maxConcurrency: Count;
  readonly maxErrors: Count;
  readonly cutoffBehavior: 'continue' | 'cancel';
}

export interface TaskProgress {
  /** Targets in dispatch order. */
  readonly targets: readonly string[];
  /** Invocation status per target that has one; targets without one have not been dispatched. */
  readonly invocations: Readonly<Record<string, InvocationStatus>>;
}

export interface DispatchDecision {
  /** Targets to invoke now. */
  readonly dispatch: readonly string[];
  /** Targets never to be invoked: the error budget is spent, or the cutoff passed with `cancel`. */
  readonly terminate: readonly string[];
  /** In-progress invocations to cancel (cutoff with `cancel`). */
  readonly cancel: readonly string[];
  readonly status: TaskStatus;
  readonly reason: string;
}

/**
 * One step of a task: keep up to MaxConcurrency invocations running, stop dispatching once errors exceed
 * MaxErrors (invocations already running finish), and after `lastTaskStart` either go on (`continue`) or start
 * nothing more and cancel what runs (`cancel`, ending TIMED_OUT). A cancelled execution (`cancelled`) stops the
 * same way at once.
 */
export function dispatchStep(task: TaskSpec, p: TaskProgress, now: number, lastTaskStart: number, cancelled = false): DispatchDecision {
  const statuses = p.targets.map((t) => p.invocations[t]);
  const running = p.targets.filter((t) => p.invocations[t] === 'PENDING' || p.invocations[t] === 'IN_PROGRESS');
  const waiting = p.targets.filter((t) => p.invocations[t] === undefined);
  const errors = statuses.filter((s) => s !== undefined && countsAsError(s)).length;
  const allowed = allowedErrors(task.maxErrors, p.targets.length);
  const slots = Math.max(0, concurrencyOf(task.maxConcurrency, p.targets.length) - running.length);
  const pastCutoff = now > lastTaskStart;

  if (errors > allowed) {
    const status: TaskStatus = running.length > 0 ? 'IN_PROGRESS' : 'FAILED';
    return { dispatch: [], terminate: waiting, cancel: [], status, reason: `error ${errors} exceeds MaxErrors ${allowed}: no new invocation; running ones finish` };
  }
  if (cancelled || (pastCutoff && task.cutoffBehavior === 'cancel')) {
    const done = running.length === 0 && waiting.length === 0;
    return { dispatch: [], terminate: waiting, cancel: running, status: done && statuses.every((s) => s === 'SUCCESS' || s === 'UNDELIVERABLE') ? 'SUCCESS' : 'TIMED_OUT', reason: `${cancelled ? 'execution cancelled' : 'cutoff passed (cancel)'}: nothing new starts, running invocations are cancelled` };
  }
  const dispatch = waiting.slice(0, slots);
  if (running.length === 0 && waiting.length === 0) {
    const failed = statuses.some((s) => s !== undefined && countsAsError(s));
    return { dispatch: [], terminate: [], cancel: [], status: failed ? 'FAILED' : 'SUCCESS', reason: failed ? `${errors} invocation(s) failed within MaxErrors ${allowed}` : 'every invocation finished' };
  }
  const started = statuses.some((s) => s !== undefined) || dispatch.length > 0;
  return { dispatch, terminate: [], cancel: [], status: started ? 'IN_PROGRESS' : 'PENDING', reason: `${running.length + dispatch.length} running of at most ${concurrencyOf(task.maxConcurrency, p.targets.length)}; ${errors} error(s) of ${allowed} allowed` };
}

/**
 * The tasks that may run now: lower priority numbers first, equal ones together; a priority starts when every
 * task of the previous one has finished (whatever its outcome).
 */
export function runnablePriority(tasks: readonly TaskSpec[], statusOf: (name: string) => TaskStatus): number | null {
  const priorities = [...new Set(tasks.map((t) => t.priority))].sort((a, b) => a - b);
  for (const p of priorities) {
    const group = tasks.filter((t) => t.priority === p);
    if (group.some((t) => statusOf(t.name) === 'PENDING' || statusOf(t.name) === 'IN_PROGRESS')) return p;
  }
  return null;
}
