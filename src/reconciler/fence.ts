import { LeaseLostError } from '../domain/errors.js';
import type { Clock, Lease, LeaseStore } from '../ports/index.js';

/**
 * The lease as a fence (docs/development.md, rule 9). `check()` runs before every mutating call of a group's tick: it
 * passes only while this controller holds the lease it started the tick with, renewing it once half its time is gone,
 * so after a check at least half a lease remains before any other controller could take over. A tick slowed past its
 * lease (throttling, a starved CPU) either renews it — nobody else acted meanwhile, the generation is unchanged — or
 * stops with LeaseLostError before sending anything more.
 */
export class GroupFence {
  private lease: Lease;

  constructor(
    private readonly store: LeaseStore,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    lease: Lease,
  ) {
    this.lease = lease;
  }

  get token(): Lease {
    return this.lease;
  }

  async check(): Promise<void> {
    const now = this.clock.now();
    if (now < this.lease.expiresAt - this.ttlMs / 2) return;
    const renewed = await this.store.acquireLease(this.lease.group, this.lease.owner, now, this.ttlMs);
    if (renewed === null || renewed.generation !== this.lease.generation) {
      throw new LeaseLostError(this.lease.group, `lease lost by ${this.lease.owner} (generation ${this.lease.generation}) ${renewed === null ? 'to another controller' : `and taken again as generation ${renewed.generation}`}; the rest of this tick is abandoned`);
    }
    this.lease = renewed;
  }
}
