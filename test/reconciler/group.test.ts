import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openSimulatedController, virtualTime } from '../../src/app/compose.js';
import { loadConfigFile } from '../../src/config/load.js';
import { ProviderError } from '../../src/domain/errors.js';
import type { Store } from '../../src/ports/index.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
const T = (iso: string): number => Date.parse(iso);

/** reconcileGroup: one group reconciled as a unit (the Lambda worker's step), the same as a tick does for it. */
describe('reconcileGroup', () => {
  const config = loadConfigFile(DEMO);
  const start = T(config.simulator?.start ?? '2026-06-01T01:40:00Z');

  async function statesAfter(drive: (ctl: ReturnType<typeof openSimulatedController>) => Promise<unknown>): Promise<Record<string, string>> {
    const { clock, sleep } = virtualTime(start);
    const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'a' });
    while (clock.now() < T('2026-06-01T02:10:00Z')) {
      await drive(ctl);
      clock.set(clock.now() + config.controller.tickIntervalMs);
    }
    const out = Object.fromEntries((await ctl.store.allRecords()).map((r) => [`${r.group}/${r.instanceId}`, r.state]));
    await ctl.close();
    return out;
  }

  it('brings one group to the same states a whole-fleet tick does, and touches no other group', async () => {
    const byTick = await statesAfter((ctl) => ctl.reconciler.tick());
    const alone = await statesAfter((ctl) => ctl.reconciler.reconcileGroup('web'));
    const web = Object.fromEntries(Object.entries(byTick).filter(([k]) => k.startsWith('web/')));
    assert.ok(Object.values(web).filter((s) => s === 'running').length >= 6, 'the window started web');
    assert.deepEqual(alone, web, 'web alone ends where the tick left web; no other group has a record');
  });

  it('a group failing on its own is reported with its kind, and the other group reconciles', async () => {
    const { clock, sleep } = virtualTime(start);
    const real = new SqliteStore(':memory:');
    // The store fails erp's reads, as a throttled DynamoDB would: transient, so retryable.
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'loadGroup') return (g: string) => (g === 'erp' ? Promise.reject(new ProviderError('retryable', 'dynamodb', 'ThrottlingException', 'rate exceeded')) : target.loadGroup(g));
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Store;
    const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, owner: 'a' }, store);
    const erp = await ctl.reconciler.reconcileGroup('erp');
    assert.deepEqual(erp.failed.map((f) => f.group), ['erp']);
    assert.equal(ctl.reconciler.groupErrors().get('erp')?.retryable, true);
    const web = await ctl.reconciler.reconcileGroup('web');
    assert.deepEqual(web.failed, []);
    assert.ok((await real.allRecords()).some((r) => r.group === 'web'), 'web was recorded');
    assert.equal((await real.allRecords()).some((r) => r.group === 'erp'), false);
    assert.equal((await real.history({ limit: 100 })).some((h) => h.group === 'erp' && h.type === 'error' && /ThrottlingException/.test(h.summary)), true, 'the failure is in erp’s history');
    assert.equal(ctl.reconciler.groupErrors().has('web'), false);
    await ctl.close();
  });

  it('keeps nothing it observed once the leases are let go: a warm worker handed group after group does not gather the fleet', async () => {
    const { clock, sleep } = virtualTime(start);
    const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'a' });
    const listed = await ctl.simulator!.listInstances(['fleetwarden:group-name']);
    const of = (group: string): string => listed.find((i) => i.tags['fleetwarden:group-name'] === group)?.id ?? assert.fail(`an instance of ${group}`);
    await ctl.reconciler.reconcileGroup('web');
    assert.equal(ctl.reconciler.observedInstance(of('web'))?.id, of('web'), 'observed while the group is held');
    await ctl.reconciler.release();
    await ctl.reconciler.reconcileGroup('erp');
    assert.equal(ctl.reconciler.observedInstance(of('erp'))?.id, of('erp'));
    assert.equal(ctl.reconciler.observedInstance(of('web')), undefined, "web's instances went with web's lease");
    await ctl.reconciler.release();
    assert.equal(ctl.reconciler.observedInstance(of('erp')), undefined);
    // The next tick of a group reads it afresh, and ends as it would have.
    const again = await ctl.reconciler.reconcileGroup('web');
    assert.deepEqual(again.failed, []);
    assert.equal(ctl.reconciler.observedInstance(of('web'))?.id, of('web'));
    await ctl.close();
  });

  it('lets every lease go and forgets what it observed even when the store fails to let one go (that one lapses by its TTL)', async () => {
    const { clock, sleep } = virtualTime(start);
    const real = new SqliteStore(':memory:');
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'releaseLease') return (g: string, owner: string) => (g === 'web' ? Promise.reject(new ProviderError('retryable', 'dynamodb', 'ThrottlingException', 'rate exceeded')) : target.releaseLease(g, owner));
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Store;
    const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, owner: 'a' }, store);
    const id = (await ctl.simulator!.listInstances(['fleetwarden:group-name'])).find((i) => i.tags['fleetwarden:group-name'] === 'web')?.id ?? assert.fail('a web instance');
    // Both groups held (a tick), web's release fails: erp's lease is still let go.
    await ctl.reconciler.tick();
    assert.ok(ctl.reconciler.observedInstance(id));
    await assert.rejects(ctl.reconciler.release(), /ThrottlingException/);
    assert.equal(ctl.reconciler.observedInstance(id), undefined);
    assert.equal(await real.leaseHolder('erp', clock.now()), null, "erp's lease was let go");
    assert.equal((await real.leaseHolder('web', clock.now()))?.owner, 'a', "web's stays until its TTL");
    await real.close();
  });

  it('skips a group whose lease another controller holds, and refuses a group the configuration does not have', async () => {
    const { clock, sleep } = virtualTime(start);
    const store = new SqliteStore(':memory:');
    await store.acquireLease('web', 'other', start, config.controller.leaseTtlMs);
    const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, owner: 'a' }, store);
    const r = await ctl.reconciler.reconcileGroup('web');
    assert.deepEqual([r.groups.length, r.skipped], [0, ['web']]);
    assert.equal((await store.allRecords()).length, 0);
    await assert.rejects(ctl.reconciler.reconcileGroup('nope'), /group: no group named "nope"/);
    await ctl.close();
  });
});
