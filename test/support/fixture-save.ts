/**
 * Tests that lay out a store's state directly (not through a controller) write as a controller would: under the
 * group's lease, taken for the owner `fixture` on first use.
 */
import type { GroupStateStore, LeaseStore, TickWrite } from '../../src/ports/index.js';

export const FIXTURE_OWNER = 'fixture';

export async function fixtureSave(store: LeaseStore & GroupStateStore, write: Omit<TickWrite, 'lease'>): Promise<void> {
  const lease = (await store.leaseHolder(write.group, 0)) ?? (await store.acquireLease(write.group, FIXTURE_OWNER, 0, Number.MAX_SAFE_INTEGER / 2));
  if (lease === null || lease.owner !== FIXTURE_OWNER) throw new Error(`fixture: the lease of ${write.group} is held by ${lease?.owner ?? 'nobody'}`);
  await store.saveTick({ ...write, lease });
}
