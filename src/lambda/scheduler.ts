/**
 * The scheduler function: EventBridge Scheduler invokes it every minute; it hands every group whose work is due to
 * a worker of its own (an asynchronous Invoke of the worker function, payload `{ group, offsetMs }`).
 *
 * Due: every group each minute, but one whose lease has not been renewed for over a tick interval: its worker died
 * or hangs, and the group waits for the lease's TTL rather than have a worker per minute wait on it. A lease renewed
 * lately is the last minute's worker finishing its last tick: the new worker waits for it (src/lambda/worker.ts). `offsetMs`, stable per group name and within one tick interval, spreads the groups' work over the
 * interval, so 1,000 groups do not call EC2 in the same second.
 */
import { openStore } from '../app/compose.js';
import { ValidationError } from '../domain/errors.js';
import { LambdaInvoker } from '../providers/aws/lambda.js';
import type { LambdaContext } from './context.js';
import { emitMetrics } from './context.js';
import { deploymentConfig, ENV, offsetOf } from './deployment.js';

export interface WorkerEvent {
  readonly group: string;
  readonly offsetMs: number;
}

export interface SchedulerResult {
  readonly invoked: readonly string[];
  /** Groups whose lease a dead or hung worker holds (until its TTL). */
  readonly busy: readonly string[];
  /** Groups whose worker could not be queued (tried again next minute). */
  readonly failed: readonly { readonly group: string; readonly error: string }[];
}

let invoker: LambdaInvoker | undefined;

/** A live worker renews its lease at every tick; beyond its interval and this, it is taken for dead or hung. */
const STALE_SLACK_MS = 5_000;

export async function handler(_event: unknown, _context: LambdaContext): Promise<SchedulerResult> {
  const config = deploymentConfig();
  const worker = process.env[ENV.worker];
  if (worker === undefined || worker === '') throw new ValidationError(ENV.worker, 'not set: the scheduler needs the worker function’s name');
  const store = await openStore(config, '');
  invoker ??= new LambdaInvoker();
  const now = Date.now();
  const invoked: string[] = [];
  const busy: string[] = [];
  const failed: { group: string; error: string }[] = [];
  const span = Math.min(config.controller.tickIntervalMs, 60_000);
  // One group's failure (a throttled Invoke, a store read) never keeps another group's worker from starting.
  await Promise.all(
    config.groups.map(async (g) => {
      try {
        const lease = await store.leaseHolder(g.name, now);
        // When it was last taken or renewed: a lease is taken for leaseTtl each time.
        if (lease !== null && now - (lease.expiresAt - config.controller.leaseTtlMs) > config.controller.tickIntervalMs + STALE_SLACK_MS) {
          busy.push(g.name);
          return;
        }
        const event: WorkerEvent = { group: g.name, offsetMs: offsetOf(g.name, span) };
        await (invoker as LambdaInvoker).invokeAsync(worker, event);
        invoked.push(g.name);
      } catch (err) {
        failed.push({ group: g.name, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      }
    }),
  );
  await store.close();
  for (const f of failed) console.error(JSON.stringify({ type: 'error', group: f.group, message: `worker not started: ${f.error}` }));
  emitMetrics({ WorkersInvoked: invoked.length, GroupsBusy: busy.length, InvokeFailures: failed.length });
  return { invoked: invoked.sort(), busy: busy.sort(), failed };
}
