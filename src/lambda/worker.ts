/**
 * The group worker: one invocation is ONE tick of one group (src/lambda/scheduler.ts fires an invocation per group at
 * each of its tick instants). It reconciles the group once — reconcileGroup takes the group's DynamoDB lease, so
 * two workers on one group never both act — lets the lease go and returns: Lambda bills the tick's work, not a
 * worker sleeping between ticks.
 *
 * An event that arrives later than one tick interval after the instant it was fired for (a throttled or queued
 * asynchronous invocation) is dropped: the scheduler has fired the group's next tick by then, and late ticks must not
 * pile up on the group. A worker that finds the lease held leaves the group alone: its previous tick is still
 * running (or died, and the lease's TTL hands the group over) and the next instant comes within an interval.
 *
 * A tick that finds its group at rest (src/reconciler/rest.ts) records until when — the next boundary of its windows
 * and schedules, at most FLEETWARDEN_REST_MAX_MS ahead — on the group's HEAD item, and the scheduler leaves the group
 * alone until then, unless a write woke it meanwhile (DynamoStore.wakeGroup).
 */
import { ValidationError } from '../domain/errors.js';
import { DynamoStore } from '../store/dynamodb/store.js';
import type { LambdaContext } from './context.js';
import { emitMetrics } from './context.js';
import { deploymentConfig, deploymentController, restMaxMs } from './deployment.js';

/** What the scheduler sends: the group, and the instant (epoch ms) this tick was fired for. */
export interface WorkerEvent {
  readonly group: string;
  readonly at?: number;
}

export interface WorkerResult {
  readonly group: string;
  /** Reconciles this worker carried out: 1, or 0 when it left the group alone. */
  readonly ticks: number;
  /** true: another worker held the group's lease, and this one left it alone. */
  readonly skipped: boolean;
  /** The failed reconcile's errors (each is also in the group's history). */
  readonly errors: readonly string[];
  /** done: it ticked; lease: another worker holds the group; late: the event came after the group's next tick. */
  readonly stopped: 'done' | 'lease' | 'late';
  /** Until when the group rests, as recorded for the scheduler (absent: it is due again at its next instant). */
  readonly restsUntil?: number;
  /** The invocation's remaining time when it returned. */
  readonly remainingMs: number;
}

/** Lateness tolerated beyond one tick interval (the async queue, a cold start). */
const LATE_SLACK_MS = 5_000;

export async function handler(event: unknown, context: LambdaContext): Promise<WorkerResult> {
  const e = event as { group?: unknown; at?: unknown } | null;
  if (e === null || typeof e !== 'object' || typeof e.group !== 'string') throw new ValidationError('group', 'the worker’s event must be { "group": "<name>", "at": <epoch ms> }');
  const group = e.group;
  const config = deploymentConfig();
  if (!config.groups.some((g) => g.name === group)) throw new ValidationError('group', `no group named ${JSON.stringify(group)} in the deployed configuration`);
  const interval = config.controller.tickIntervalMs;
  const done = (ticks: number, errors: string[], stopped: WorkerResult['stopped'], restsUntil?: number): WorkerResult => {
    emitMetrics({ Ticks: ticks, FailedTicks: errors.length, LateEvents: stopped === 'late' ? 1 : 0 }, { Group: group });
    return { group, ticks, skipped: stopped === 'lease', errors, stopped, ...(restsUntil === undefined ? {} : { restsUntil }), remainingMs: context.getRemainingTimeInMillis() };
  };
  if (typeof e.at === 'number' && Date.now() - e.at > interval + LATE_SLACK_MS) return done(0, [], 'late');
  const ctl = await deploymentController();
  const errors: string[] = [];
  const store = ctl.store instanceof DynamoStore ? ctl.store : null;
  const tickStart = Date.now();
  // Read before the tick: a write that wakes the group during it makes the due recorded after it void.
  const marks = await store?.wakeMarks(group);
  try {
    // A failure outside the group's own barrier (the lease or settings reads, the observation out of retries) is
    // this tick's: counted, and the next instant tries again.
    const r = await ctl.reconciler.reconcileGroup(group).catch((err: unknown) => {
      errors.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      return null;
    });
    if (r !== null && r.skipped.includes(group)) return done(0, errors, 'lease');
    for (const f of r?.failed ?? []) errors.push(f.error);
    // The group's last error where `status` (the API function, the CLI on the table) can see it; cleared by a good tick.
    if (store !== null && errors.length > 0) {
      const known = ctl.reconciler.groupErrors().get(group);
      await store.setGroupError(group, { at: known?.at ?? tickStart, message: known?.message ?? errors[0] ?? '', retryable: known?.retryable ?? false });
    } else if (store !== null && marks?.failing === true) await store.setGroupError(group, null);
    const rest = r === null || errors.length > 0 ? null : ctl.reconciler.restingUntil(group);
    if (store === null || marks === undefined || rest === null) return done(r === null ? 0 : 1, errors, 'done');
    const due = Math.min(rest, tickStart + restMaxMs());
    return done(1, errors, 'done', (await store.setDue(group, due, marks)) ? due : undefined);
  } finally {
    // The lease goes with the tick: the group's next tick may land on another container.
    await ctl.reconciler.release();
  }
}
