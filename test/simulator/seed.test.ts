/** The simulator started from a snapshot of a real fleet (a seed) instead of its spec's invented groups. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namingFor } from '../../src/config/config.js';
import type { SimulatorSeed } from '../../src/config/simulator-spec.js';
import { VirtualClock } from '../../src/domain/time.js';
import { Simulator } from '../../src/providers/simulator/simulator.js';
import { measureTimings } from '../../src/app/world.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');
const KEY = 'fleetwarden:group-name';
const TG = 'arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/web/1';

const seed: SimulatorSeed = {
  instances: [
    { id: 'i-0a', group: 'web', tags: { [KEY]: 'web', Name: 'a' }, zone: 'eu-west-1a', type: 'm5.large', power: 'running' },
    { id: 'i-0b', group: 'web', tags: { [KEY]: 'web' }, zone: 'eu-west-1b', type: 'm5.large', power: 'stopped' },
    { id: 'i-0c', group: null, tags: { Other: 'x' }, zone: 'eu-west-1c', type: 't3.micro', power: 'stopping' },
    { id: 'i-0d', group: null, tags: { Other: 'y' }, zone: 'eu-west-1a', type: 't3.micro', power: 'pending' },
  ],
  targetGroups: { [TG]: { members: ['i-0a', 'i-0b'], deregistrationDelayMs: 120_000 } },
  windows: [{ id: 'mw-0123456789abcdef0', name: 'FW-web-Mainfleet', schedule: 'cron(0 3 ? * SUN *)', durationHours: 2, cutoffHours: 0, enabled: true, tags: { team: 'ops' } }],
  timings: { web: { bootMs: 123_000 } },
};

function seeded(): { s: Simulator; clock: VirtualClock } {
  const clock = new VirtualClock(T0);
  return { s: new Simulator({ groups: {}, start: '2026-06-01T00:00:00Z' }, namingFor('fleetwarden'), clock, null, undefined, { seed }), clock };
}

describe('a seeded simulator', () => {
  it('lists the instances, target group members, delays and windows of the seed, exactly', async () => {
    const { s } = seeded();
    const listed = await s.listInstances([KEY, 'Other']);
    assert.deepEqual(listed.map((i) => [i.id, i.power, i.zone, i.instanceType, i.tags]), [
      ['i-0a', 'running', 'eu-west-1a', 'm5.large', { [KEY]: 'web', Name: 'a' }],
      ['i-0b', 'stopped', 'eu-west-1b', 'm5.large', { [KEY]: 'web' }],
      ['i-0c', 'stopping', 'eu-west-1c', 't3.micro', { Other: 'x' }],
      ['i-0d', 'pending', 'eu-west-1a', 't3.micro', { Other: 'y' }],
    ]);
    const health = await s.targetHealth();
    assert.deepEqual([...health.keys()].sort(), ['i-0a', 'i-0b']);
    assert.equal(health.get('i-0a')?.[TG], 'healthy', 'a running member is in service');
    assert.equal((await s.deregistrationDelays()).get(TG), 120_000);
    assert.deepEqual((await s.list()).map((w) => [w.id, w.name, w.tags]), [['mw-0123456789abcdef0', 'FW-web-Mainfleet', { team: 'ops' }]]);
  });

  it('instances caught mid-boot or mid-stop finish within the default times (no measured timing for their group)', async () => {
    const { s, clock } = seeded();
    clock.set(T0 + 90_000);
    const listed = await s.listInstances(['Other']);
    assert.deepEqual(listed.map((i) => [i.id, i.power]), [['i-0c', 'stopped'], ['i-0d', 'running']]);
  });

  it("boots take the group's measured time; a deregistration lasts the target group's own delay", async () => {
    const { s, clock } = seeded();
    await s.start(['i-0b']);
    clock.set(T0 + 122_999);
    assert.equal((await s.listInstances([KEY])).find((i) => i.id === 'i-0b')?.power, 'pending');
    clock.set(T0 + 123_000);
    assert.equal((await s.listInstances([KEY])).find((i) => i.id === 'i-0b')?.power, 'running');
    await s.deregister(TG, ['i-0a']);
    clock.set(T0 + 123_000 + 119_000);
    assert.equal((await s.targetHealth()).get('i-0a')?.[TG], 'draining');
    clock.set(T0 + 123_000 + 120_000);
    assert.equal((await s.targetHealth()).get('i-0a'), undefined, 'gone after the 120 s delay, not the default');
  });
});

describe('timings measured from the history', () => {
  it('medians per kind need both ends of a state; unmatched exits count for nothing', () => {
    const t = (at: number, instanceId: string, from: string, to: string) => ({ at: T0 + at * 1000, instanceId, from, to });
    const m = measureTimings([
      t(100, 'i-1', 'starting', 'initializing'), // entered before the history read: no sample
      t(0, 'i-2', 'stopped', 'starting'),
      t(50, 'i-2', 'starting', 'initializing'),
      t(10, 'i-3', 'stopped', 'starting'),
      t(80, 'i-3', 'starting', 'initializing'),
      t(200, 'i-3', 'running', 'draining'),
      t(290, 'i-3', 'draining', 'stopping'),
      t(320, 'i-3', 'stopping', 'stopped'),
    ]);
    assert.deepEqual(m, { boot: { ms: 60_000, samples: 2 }, stop: { ms: 30_000, samples: 1 }, drain: { ms: 90_000, samples: 1 } });
  });
});
