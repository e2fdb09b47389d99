import { errorKind, LeaseLostError } from '../domain/errors.js';
import type { ActionFailure, Command } from '../planner/types.js';
import type { ActionResult, CommandHandle, CommandRunner, FleetProvider, HistoryEntry, LoadBalancer } from '../ports/index.js';

/** Errors worth retrying: those of kind `retryable` (throttling, server faults, the network), mapped by the provider adapters. */
export function isRetryable(err: unknown): boolean {
  return errorKind(err) === 'retryable';
}

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 250, maxMs: 8000 };

export interface ExecutorDeps {
  readonly provider: FleetProvider;
  readonly lb: LoadBalancer;
  readonly runner: CommandRunner;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly now: () => number;
  readonly retry?: RetryPolicy;
  /** Checked before every attempt: throws LeaseLostError once this controller may no longer act (see fence.ts). */
  readonly fence?: () => Promise<void>;
  /**
   * The tick's deadline (an instant from the injected clock): no back-off is slept past it — the call's error is
   * thrown instead, and the next tick tries again. Absent: retries are bounded by the policy's attempts alone.
   */
  readonly deadline?: number;
}

/**
 * Runs `fn`, retrying errors of kind `retryable` with exponential back-off and full jitter; each retry is recorded.
 * This is the only retry layer of a provider call (the SDK clients make one attempt: app/aws.ts), bounded by the
 * policy's attempts and by the tick's deadline.
 */
export async function withRetry<T>(deps: ExecutorDeps, what: string, group: string, history: HistoryEntry[], fn: () => Promise<T>): Promise<T> {
  const policy = deps.retry ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    await deps.fence?.();
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || attempt >= policy.attempts) throw err;
      const delay = Math.floor(deps.random() * Math.min(policy.maxMs, policy.baseMs * 2 ** attempt));
      const message = err instanceof Error ? err.message : String(err);
      const now = deps.now();
      if (deps.deadline !== undefined && now + delay >= deps.deadline) {
        history.push({ at: now, group, instanceId: null, type: 'retry', summary: `${what}: ${message}; not retried: the tick's deadline is ${Math.max(0, deps.deadline - now)} ms away (next tick tries again)` });
        throw err;
      }
      history.push({ at: now, group, instanceId: null, type: 'retry', summary: `${what}: ${message}; retry ${attempt} of ${policy.attempts - 1} in ${delay} ms` });
      await deps.sleep(delay);
    }
  }
}

export interface Execution {
  readonly handles: CommandHandle[];
  readonly failures: ActionFailure[];
  readonly history: HistoryEntry[];
}

/**
 * Carries out a plan's commands. Start/stop refusals become failures for the next tick (error back-off).
 * `withheld(id)` is asked just before a stop or a drain's deregistration is sent: a reason means it must not be
 * sent now (a window began while the tick was slowed down); the instance is then left as it is and the next tick
 * decides again.
 */
export async function execute(deps: ExecutorDeps, group: string, commands: readonly Command[], scriptTimeoutMs: number, withheld: (instanceId: string) => string | null = () => null): Promise<Execution> {
  const out: Execution = { handles: [], failures: [], history: [] };
  const failAll = (action: 'start' | 'stop', ids: readonly string[], detail: string): void => {
    for (const id of ids) out.failures.push({ instanceId: id, action, at: deps.now(), detail });
  };
  const record = (action: 'start' | 'stop', results: readonly ActionResult[]): void => {
    for (const r of results) {
      if (r.ok) continue;
      out.failures.push({ instanceId: r.instanceId, action, at: deps.now(), detail: r.detail ?? 'refused' });
      // Per instance in the history too, so `history --instance` shows why it did not move.
      out.history.push({ at: deps.now(), group, instanceId: r.instanceId, type: 'error', summary: `${action} ${r.instanceId} refused: ${r.detail ?? 'no reason given'}` });
    }
  };
  /** The instances of a stop or deregistration that may still be sent now; the others are recorded. */
  const stillAllowed = (c: Command): string[] => {
    const allowed: string[] = [];
    for (const id of c.instances) {
      const why = withheld(id);
      if (why === null) allowed.push(id);
      else out.history.push({ at: deps.now(), group, instanceId: id, type: 'error', summary: `${c.kind} ${id} not sent: ${why} (decided before it began)` });
    }
    return allowed;
  };
  for (const c of commands) {
    const label = `${c.kind} ${c.instances.join(', ')}`;
    try {
      switch (c.kind) {
        case 'start':
          record('start', await withRetry(deps, label, group, out.history, () => deps.provider.start(c.instances)));
          break;
        // Checked again at every attempt: a retry after a back-off may come after a window began.
        case 'stop':
          record('stop', await withRetry(deps, label, group, out.history, async () => {
            const ids = stillAllowed(c);
            return ids.length > 0 ? deps.provider.stop(ids, { force: c.force }) : [];
          }));
          break;
        case 'deregister':
          await withRetry(deps, label, group, out.history, async () => {
            const ids = stillAllowed(c);
            if (ids.length > 0) await deps.lb.deregister(c.targetGroup, ids);
          });
          break;
        case 'register':
          await withRetry(deps, label, group, out.history, () => deps.lb.register(c.targetGroup, c.instances));
          break;
        case 'run-event':
          out.handles.push(await withRetry(deps, label, group, out.history, () => deps.runner.runEvent(group, c.instances, c.event, c.args, scriptTimeoutMs)));
          break;
        case 'check-bypass':
          out.handles.push(await withRetry(deps, label, group, out.history, () => deps.runner.checkBypass(group, c.instances, c.path, c.os)));
          break;
      }
    } catch (err) {
      if (err instanceof LeaseLostError) throw err;
      const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      out.history.push({ at: deps.now(), group, instanceId: null, type: 'error', summary: `${label} failed: ${detail}` });
      if (c.kind === 'start' || c.kind === 'stop') failAll(c.kind, c.instances, detail);
      // Events and bypass checks that could not be sent time out in the planner and are sent again.
    }
  }
  return out;
}
