/**
 * `fleetwarden plan`'s pieces: what a preview of the next tick reports (Reconciler.preview), the ports through which
 * its maintenance step records instead of sending, and a store that refuses every write.
 */
import type { reconcileProblems } from '../domain/problems.js';
import type { Plan } from '../planner/types.js';
import type { CommandHandle, CommandRunner, Lease, LoadBalancer, Store } from '../ports/index.js';

/** A maintenance step a preview found the tick would take (an execution started, a script sent, a target group left). */
export interface MaintenanceStep {
  readonly instance: string | null;
  readonly message: string;
}

/** What the next tick would do in a group (Reconciler.preview). */
export interface GroupPreview {
  readonly group: string;
  /** The group's lease, when a controller holds it (it is the one that would act). */
  readonly lease: Lease | null;
  /** The planner's commands and transitions (null when the group could not be read: see `error`). */
  readonly plan: Plan | null;
  readonly maintenance: readonly MaintenanceStep[];
  readonly windows: { readonly entered: readonly string[]; readonly exited: readonly string[] };
  /** Input the tick could not use: all of it now, and what would be newly found or cleared. */
  readonly problems: ReturnType<typeof reconcileProblems> | null;
  /** Calls that were throttled and retried while previewing. */
  readonly retries: readonly string[];
  readonly error: string | null;
}

export interface PreviewSummary {
  readonly at: number;
  readonly groups: readonly GroupPreview[];
}

/**
 * The load balancer and command runner of a preview: what maintenance would send is recorded, never sent. Command
 * results are not read through them (a preview reads results through the real runner, in readGroup).
 */
export function previewPorts(recorded: MaintenanceStep[], now: number): { lb: LoadBalancer; runner: CommandRunner } {
  const refuse = (what: string): Promise<never> => Promise.reject(new Error(`a preview does not ${what}`));
  const handle = (kind: CommandHandle['kind'], group: string, ids: readonly string[], id: string): CommandHandle => ({ id, kind, group, instanceIds: [...ids], sentAt: now });
  return {
    lb: {
      targetHealth: () => refuse('read target health here'),
      deregistrationDelays: () => refuse('read deregistration delays here'),
      register: (tg, ids) => {
        for (const id of ids) recorded.push({ instance: id, message: `register in ${tg} (back in service)` });
        return Promise.resolve();
      },
      deregister: (tg, ids) => {
        for (const id of ids) recorded.push({ instance: id, message: `deregister from ${tg} (out of service)` });
        return Promise.resolve();
      },
    },
    runner: {
      runEvent: (group, ids, event) => {
        for (const id of ids) recorded.push({ instance: id, message: `event ${event} sent` });
        return Promise.resolve(handle('event', group, ids, `preview-${event}`));
      },
      checkBypass: () => refuse('check bypass files'),
      runScript: (group, id, commandId) => Promise.resolve(handle('script', group, [id], commandId)),
      cancel: () => Promise.resolve(),
      results: () => refuse('read results here'),
    },
  };
}


/** The store methods a preview may call: reads only. Anything else (a write, or a method added later) is refused. */
const READS = new Set<string>(['leaseHolder', 'loadGroup', 'problems', 'allRecords', 'history', 'overrides', 'storeValues', 'controls', 'tokenByHash', 'tokens', 'agentCommands', 'agentAcks', 'executions', 'execution', 'cancelRequests', 'close']);

export class ReadOnlyStoreError extends Error {
  override readonly name: string = 'ReadOnlyStoreError';
}

/**
 * The store as a preview sees it: every read passes, every other call throws before reaching the store. With SQLite
 * the file is also opened read-only (SqliteStore's `readOnly`); this guard covers DynamoDB and any store to come.
 */
export function readOnlyStore<S extends Store>(store: S): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && READS.has(prop)) return (value as (...a: unknown[]) => unknown).bind(target);
      return () => Promise.reject(new ReadOnlyStoreError(`a preview does not write to the store (${String(prop)})`));
    },
  });
}
