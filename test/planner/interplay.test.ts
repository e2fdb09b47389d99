/** Interplay of rules, and the planner's purity. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../../src/config/resolve.js';
import { plan } from '../../src/planner/plan.js';
import { commanded, groupConfig, HOUR, instance, instances, MIN, record, T0, TG, whyText, World } from './fixtures.js';

const running = { power: 'running' as const };
const NIGHTLY = { name: 'FW-web-nightly', schedule: 'cron(0 2 * * ? *)', durationHours: 2 };

describe('interplay', () => {
  it('given an instance draining for scale-in, when a window starts, then it is reclaimed and registered again, never stopped', () => {
    const w = new World({ fleets: { main: { desired: 1 } }, maintenance: { windows: [NIGHTLY] } }, [instance('i-1', running), instance('i-2', running)]);
    w.records.set('i-1', record('i-1', 'running', T0 - HOUR));
    w.records.set('i-2', record('i-2', 'running', T0));
    w.now = T0 + HOUR + 44 * MIN;
    w.tick();
    const drained = ['i-1', 'i-2'].find((id) => w.state(id) === 'draining');
    assert.ok(drained);
    const p = w.tick(MIN); // 01:45: the window (with start-ahead) begins
    assert.equal(w.state(drained), 'running');
    assert.deepEqual(p.commands.flatMap((c) => (c.kind === 'register' ? [c.targetGroup] : [])), [TG]);
    assert.match(whyText(p), /drain cancelled: scale-out/);
    assert.deepEqual(commanded(w.run(HOUR), 'stop'), []);
  });

  it('given an instance draining for an issue, when a window starts, then it stays out of service but is not stopped until the window ends', () => {
    const w = new World({ fleets: { main: { desired: 1 } }, maintenance: { windows: [{ ...NIGHTLY, disableDefaultConfiguration: true }] } }, [instance('i-1', running)]);
    w.records.set('i-1', record('i-1', 'draining', T0 + HOUR + 40 * MIN, { drainCause: 'issue', deregisteredFrom: [TG] }));
    w.set('i-1', { targets: {} });
    w.now = T0 + HOUR + 45 * MIN;
    const during = w.run(2 * HOUR + 14 * MIN);
    assert.deepEqual(commanded(during, 'stop'), []);
    assert.equal(w.state('i-1'), 'draining');
    assert.match(whyText(during), /i-1: draining; stop blocked: window FW-web-nightly active until 2026-06-01T04:00:00Z/);
    assert.deepEqual(commanded(w.run(2 * MIN), 'stop'), ['i-1']);
  });

  it('given a tier stop, when a window is active, then no tier is drained until the window ends', () => {
    const tiers = [
      { name: 'Web', start: { sequence: 1 }, stop: { sequence: 0 } },
      { name: 'DB', start: { sequence: 0 }, stop: { sequence: 1 } },
    ];
    const list = [instance('i-web', { ...running, tier: 'Web' }), instance('i-db', { ...running, tier: 'DB' })];
    // A window that only holds (no default configuration): by default a window also starts the workload.
    const w = new World({ workload: { state: 'stopped', tierTag: 'Role', tiers }, maintenance: { windows: [{ ...NIGHTLY, disableDefaultConfiguration: true }] } }, list);
    for (const i of list) w.records.set(i.id, record(i.id, 'running', T0));
    w.now = T0 + 2 * HOUR;
    const during = w.run(HOUR + 59 * MIN);
    assert.equal(during.flatMap((p) => p.transitions).length, 0);
    assert.match(whyText(during), /workload: tier stop stop blocked: window FW-web-nightly active until/);
    w.run(10 * MIN);
    assert.equal(w.state('i-web'), 'stopped');
  });

  it('given a LightHouse instance shelved by a larger target, when a 100% window starts, then it is started again', () => {
    const list = [instance('i-lh', { ...running, lighthouse: true }), ...instances(3, running, 'n')];
    const w = new World({ fleets: { main: { min: 1, desired: 3 } }, maintenance: { windows: [NIGHTLY] } }, list);
    for (const i of list) w.records.set(i.id, record(i.id, 'running', T0 - HOUR));
    w.run(10 * MIN);
    assert.equal(w.state('i-lh'), 'stopped', 'shelved: target 3 needs no LightHouse');
    w.now = T0 + HOUR + 44 * MIN;
    const p = w.tick(MIN);
    assert.deepEqual(commanded(p, 'start'), ['i-lh']);
  });

  it('given a run-time override with a TTL, then it wins over a window while it lasts and disappears after', () => {
    const w = new World({ fleets: { main: { desired: 1 } }, maintenance: { windows: [NIGHTLY] } }, instances(4));
    w.now = T0 + 2 * HOUR;
    w.overrides = [{ group: 'web', key: 'fleets.main.desired', value: { kind: 'absolute', value: 2 }, expiresAt: T0 + 2 * HOUR + 30 * MIN, reason: 'canary' }];
    w.overrides.push({ group: 'web', key: 'fleets.main.min', value: { kind: 'absolute', value: 0 }, expiresAt: T0 + 2 * HOUR + 30 * MIN, reason: 'canary' });
    assert.equal(commanded(w.tick(), 'start').length, 2);
    assert.equal(commanded(w.tick(31 * MIN), 'start').length, 2, 'the window’s 100% applies again');
  });
});

describe('the planner is pure', () => {
  it('same input, same plan; inputs are not modified', () => {
    const { config, group } = groupConfig({ fleets: { main: { desired: 4 } }, events: { 'instance-state-change': { enabled: true } } });
    const list = [...instances(3, running, 'r'), ...instances(2, {}, 's')];
    const records = new Map([['i-r1', record('i-r1', 'running', T0 - HOUR)]]);
    const input = {
      config,
      group,
      resolved: resolve({ group, now: T0, subfleets: [] }),
      instances: list,
      records,
      controls: [],
      eventResults: [],
      bypassResults: [],
      failures: [],
      now: T0,
    };
    const before = JSON.stringify({ list, records: [...records] });
    const a = plan(input);
    const b = plan(input);
    assert.deepEqual(a, b);
    assert.equal(JSON.stringify({ list, records: [...records] }), before);
    assert.ok(a.commands.length > 0);
  });
});
