/**
 * One retry layer, bounded by the tick's deadline (issue 16). The EC2 adapter is built as the composition root builds
 * it (app/aws.ts: its SDK client makes one attempt a call) against a wire fake that throttles every StartInstances;
 * the rest of the world is the simulator. Time is the injected virtual clock: back-off sleeps move it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { awsPorts } from '../../src/app/aws.js';
import { loadConfigFile } from '../../src/config/load.js';
import { VirtualClock } from '../../src/domain/time.js';
import type { FleetProvider } from '../../src/ports/index.js';
import { Simulator } from '../../src/providers/simulator/simulator.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { ec2Error, FakeAws } from '../providers/fake-aws.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
const T0 = Date.parse('2026-06-01T01:40:00Z');

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
});
after(() => fake.stop());

describe('retries are bounded by the tick deadline', () => {
  it('a start EC2 always throttles is tried until the deadline, then recorded as failed; the tick returns before its deadline', async () => {
    const demo = loadConfigFile(DEMO);
    // Only web: its first tick starts its two LightHouse instances (min 2, all stopped).
    const config = { ...demo, groups: demo.groups.filter((g) => g.name === 'web'), aws: { ...demo.aws, region: 'eu-west-1' } };
    const clock = new VirtualClock(T0);
    const sim = new Simulator(config.simulator!, config.naming, clock, null);
    // No maxAttempts here: the client's retry settings are app/aws.ts's own.
    const ec2 = awsPorts(config, clock, { endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } }).provider;
    const provider: FleetProvider = { listInstances: (keys) => sim.listInstances(keys), start: (ids) => ec2.start(ids), stop: (ids, o) => ec2.stop(ids, o) };
    fake.handler = () => ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    fake.requests.length = 0;
    const store = new SqliteStore(':memory:');
    const sleep = (ms: number): Promise<void> => Promise.resolve(clock.set(clock.now() + ms));
    // Many attempts allowed, long back-offs (random 1 = the longest): without a deadline this would sleep 6+ minutes.
    const r = new Reconciler({ config, provider, lb: sim, runner: sim, windowSource: sim, store, clock, owner: 'me', sleep, random: () => 1, retry: { attempts: 100, baseMs: 1_000, maxMs: 4_000 } });

    const summary = await r.tick();

    const interval = config.controller.tickIntervalMs; // 15 s in the demo
    // Back-offs 2, 4, 4, 4 s: attempts at 0, 2, 6, 10 and 14 s; the next back-off would end past 15 s.
    assert.equal(fake.calls('StartInstances').length, 5, 'attempts bounded by the deadline, one request each (the SDK adds none)');
    assert.ok(clock.now() - T0 < interval, `the tick returned before its deadline (${clock.now() - T0} ms)`);
    assert.deepEqual(summary.failed, [], 'a throttled start does not fail the group tick');
    const history = await store.history({ limit: 1000 });
    assert.ok(history.some((h) => h.type === 'error' && /^start i-web-\S+, i-web-\S+ failed: .*RequestLimitExceeded/.test(h.summary)), 'the failed start is recorded');
    assert.ok(history.some((h) => h.type === 'retry' && /not retried: the tick's deadline is 1000 ms away/.test(h.summary)), 'and why it was not retried again');
    const failures = (await store.loadGroup('web')).failures;
    assert.deepEqual(failures.map((f) => [f.action, /RequestLimitExceeded/.test(f.detail)]), [['start', true], ['start', true]], 'kept for the next tick (error back-off)');
    await store.close();
  });
});
