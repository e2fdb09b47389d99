/**
 * The scheduler function: EventBridge Scheduler invokes it every minute, and it stays alive for that minute to fire
 * each due group's ticks: an asynchronous Invoke of the worker function (payload `{ group, at }`, one tick each) at
 * the group's offset + k × tick interval, for every such instant within the minute. The sub-minute spacing costs one
 * function sleeping (≈ 1 GB-minute per minute, cents a month) instead of a worker per group sleeping between its
 * ticks — the worker is billed its tick's work only (docs/aws.md, "Scale and cost").
 *
 * Due: every group each minute, but one at rest whose recorded due instant (src/lambda/worker.ts) is after this
 * minute, unless a write woke it since (DynamoStore.dueView) — a group at rest costs a tick per
 * FLEETWARDEN_REST_MAX_MS at most, and an override or control reaches it within a minute — and one whose lease has not been renewed for over a tick interval: its worker died
 * or hangs, and the group waits for the lease's TTL rather than have workers fired at it. `offset`, stable per group
 * name and within one tick interval, spreads the groups' work over the interval, so 1,000 groups do not call EC2 in
 * the same second. The scheduler stops firing while enough of its time is left to return cleanly.
 */
import { openStore } from '../app/compose.js';
import { DynamoStore } from '../store/dynamodb/store.js';
import { ValidationError } from '../domain/errors.js';
import { LambdaInvoker } from '../providers/aws/lambda.js';
import type { LambdaContext } from './context.js';
import { emitMetrics } from './context.js';
import { deploymentConfig, ENV, offsetOf } from './deployment.js';
import type { WorkerEvent } from './worker.js';

export type { WorkerEvent };

export interface SchedulerResult {
  /** Groups handed out this minute (each fired at least once). */
  readonly invoked: readonly string[];
  /** Worker invocations fired in all. */
  readonly fired: number;
  /** Groups at rest, not due this minute. */
  readonly resting: readonly string[];
  /** Groups whose lease a dead or hung worker holds (until its TTL). */
  readonly busy: readonly string[];
  /** Invocations that could not be queued (the group's next instant tries again). */
  readonly failed: readonly { readonly group: string; readonly error: string }[];
  /** true: the scheduler stopped firing early, its time running out. */
  readonly cut: boolean;
}

let invoker: LambdaInvoker | undefined;

/** A live worker renews its lease at every tick; beyond its interval and this, it is taken for dead or hung. */
const STALE_SLACK_MS = 5_000;

/** Time kept in hand at the end of the scheduler's invocation. */
const MARGIN_MS = 5_000;

/** The instants, as offsets from the start of the minute, at which a group is fired: offset + k × interval < span. */
export function fireOffsets(group: string, intervalMs: number, spanMs: number): number[] {
  const offset = offsetOf(group, Math.min(intervalMs, spanMs));
  const out: number[] = [];
  for (let t = offset; t < spanMs; t += intervalMs) out.push(t);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function handler(_event: unknown, context: LambdaContext): Promise<SchedulerResult> {
  const config = deploymentConfig();
  const worker = process.env[ENV.worker];
  if (worker === undefined || worker === '') throw new ValidationError(ENV.worker, 'not set: the scheduler needs the worker function’s name');
  // The schedule's period: the minute this scheduler fires (a test shortens it).
  const span = Number(process.env['FLEETWARDEN_SPAN_MS'] ?? 60_000);
  const interval = config.controller.tickIntervalMs;
  const store = await openStore(config, '');
  if (!(store instanceof DynamoStore)) throw new ValidationError('store', 'the scheduler runs on the deployment’s DynamoDB table');
  const use = (invoker ??= new LambdaInvoker());
  const start = Date.now();
  const busy: string[] = [];
  const failed: { group: string; error: string }[] = [];
  const due: string[] = [];
  const resting: string[] = [];
  const fleetWake = await store.fleetWake();
  // One group's failure (a store read) never keeps another group's worker from starting.
  await Promise.all(
    config.groups.map(async (g) => {
      try {
        const { lease, due: restsUntil } = await store.dueView(g.name, start, fleetWake);
        // When it was last taken or renewed: a lease is taken for leaseTtl each time.
        if (lease !== null && start - (lease.expiresAt - config.controller.leaseTtlMs) > interval + STALE_SLACK_MS) busy.push(g.name);
        else if (restsUntil !== null && restsUntil >= start + span) resting.push(g.name);
        else due.push(g.name);
      } catch (err) {
        failed.push({ group: g.name, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      }
    }),
  );
  await store.close();
  const timeline = due.flatMap((group) => fireOffsets(group, interval, span).map((t) => ({ group, at: start + t }))).sort((a, b) => a.at - b.at);
  const invoked = new Set<string>();
  const pending: Promise<void>[] = [];
  let fired = 0;
  let cut = false;
  for (let i = 0; i < timeline.length; ) {
    const at = (timeline[i] as { at: number }).at;
    if (context.getRemainingTimeInMillis() - (at - Date.now()) < MARGIN_MS) {
      cut = true;
      break;
    }
    await sleep(at - Date.now());
    // Everything due by now goes at once, not awaited one by one: an Invoke's round trip never delays the next group.
    for (; i < timeline.length && (timeline[i] as { at: number }).at <= Date.now(); i++) {
      const f = timeline[i] as { group: string; at: number };
      const event: WorkerEvent = { group: f.group, at: f.at };
      fired++;
      invoked.add(f.group);
      pending.push(use.invokeAsync(worker, event).catch((err: unknown) => void failed.push({ group: f.group, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })));
    }
  }
  await Promise.all(pending);
  for (const f of failed) console.error(JSON.stringify({ type: 'error', group: f.group, message: `worker not started: ${f.error}` }));
  emitMetrics({ WorkersInvoked: fired, GroupsBusy: busy.length, GroupsResting: resting.length, InvokeFailures: failed.length });
  return { invoked: [...invoked].sort(), fired, resting: resting.sort(), busy: busy.sort(), failed, cut };
}
