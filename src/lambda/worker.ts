/**
 * The group worker: one invocation per group per minute (src/lambda/scheduler.ts). It reconciles its group at the
 * group's tick interval until the next minute's worker is due — sub-minute ticks without a server — holding the
 * group's DynamoDB lease throughout (reconcileGroup takes and renews it), then lets the lease go so the next
 * minute's scheduler finds the group free. It stops early, between two ticks, while enough of its time is left for
 * one more tick as long as its longest yet; a worker that is killed anyway keeps the lease until its TTL, after
 * which the next worker takes the group over.
 */
import { ValidationError } from '../domain/errors.js';
import type { LambdaContext } from './context.js';
import { emitMetrics } from './context.js';
import { deploymentConfig, deploymentController } from './deployment.js';

export interface WorkerResult {
  readonly group: string;
  /** Reconciles this worker carried out. */
  readonly ticks: number;
  /** true: another worker held the group's lease, and this one left it alone. */
  readonly skipped: boolean;
  /** The failed reconciles' errors (each is also in the group's history). */
  readonly errors: readonly string[];
  /** Why the worker stopped. */
  readonly stopped: 'span' | 'time' | 'lease';
}

/** How long a worker waits for its group's lease at most (the last minute's worker finishing its tick). */
const LEASE_WAIT_MS = 10_000;

/** Time kept in hand at the end of an invocation, whatever the ticks took. */
const MARGIN_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function handler(event: unknown, context: LambdaContext): Promise<WorkerResult> {
  const e = event as { group?: unknown; offsetMs?: unknown } | null;
  if (e === null || typeof e !== 'object' || typeof e.group !== 'string') throw new ValidationError('group', 'the worker’s event must be { "group": "<name>", "offsetMs": <n> }');
  const group = e.group;
  const config = deploymentConfig();
  if (!config.groups.some((g) => g.name === group)) throw new ValidationError('group', `no group named ${JSON.stringify(group)} in the deployed configuration`);
  const interval = config.controller.tickIntervalMs;
  // How long a worker works: the schedule's period (a test shortens it).
  const span = Number(process.env['FLEETWARDEN_WORKER_SPAN_MS'] ?? 60_000);
  const offset = typeof e.offsetMs === 'number' && e.offsetMs > 0 ? Math.min(e.offsetMs, interval) : 0;
  const ctl = await deploymentController();
  const start = Date.now() + offset;
  let ticks = 0;
  let longest = 0;
  const errors: string[] = [];
  let stopped: WorkerResult['stopped'] = 'span';
  try {
    for (let k = 0; k === 0 || k * interval < span; k++) {
      const at = start + k * interval;
      if (context.getRemainingTimeInMillis() - (at - Date.now()) < Math.max(2 * longest, MARGIN_MS)) {
        stopped = 'time';
        break;
      }
      await sleep(at - Date.now());
      const t0 = Date.now();
      // One tick's failure outside the group's own barrier (the lease or settings reads, the observation running out
      // of retries) is that tick's: it is counted and the next tick is tried, not the rest of the minute given up.
      const once = async (): Promise<Awaited<ReturnType<typeof ctl.reconciler.reconcileGroup>> | null> => {
        try {
          return await ctl.reconciler.reconcileGroup(group);
        } catch (err) {
          errors.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
          return null;
        }
      };
      let r = await once();
      // The last minute's worker may be finishing its last tick: its lease is waited for, a little (not a dead one's).
      while (k === 0 && r !== null && r.skipped.includes(group) && Date.now() - t0 < Math.min(interval, LEASE_WAIT_MS)) {
        await sleep(500);
        r = await once();
      }
      longest = Math.max(longest, Date.now() - t0);
      if (r === null) continue;
      if (r.skipped.includes(group)) {
        stopped = 'lease';
        break;
      }
      ticks++;
      for (const f of r.failed) errors.push(f.error);
    }
  } finally {
    // The lease goes with the worker: the next minute's scheduler finds the group free.
    await ctl.reconciler.release();
  }
  emitMetrics({ Ticks: ticks, FailedTicks: errors.length }, { Group: group });
  return { group, ticks, skipped: stopped === 'lease' && ticks === 0, errors, stopped };
}
