/**
 * Tiered workloads (seed 003) on the real reconciler and the simulated cloud: instances selected by the tags users
 * already have, and maintenance windows that start a workload in tier order and hold its stop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSimulatedController, virtualTime } from '../../src/app/compose.js';
import type { FleetConfig } from '../../src/config/config.js';
import { parseConfigText } from '../../src/config/load.js';
import type { LifecycleState } from '../../src/domain/lifecycle.js';

const T = (iso: string): number => Date.parse(iso);

function rig(config: FleetConfig) {
  const { clock, sleep } = virtualTime(T(config.simulator?.start ?? '2026-06-01T00:00:00Z'));
  const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'test' });
  return {
    ctl,
    clock,
    async runUntil(iso: string): Promise<void> {
      while (clock.now() < T(iso)) {
        await ctl.reconciler.tick();
        clock.set(Math.min(clock.now() + config.controller.tickIntervalMs, T(iso)));
      }
    },
    async states(group: string): Promise<Record<string, LifecycleState>> {
      return Object.fromEntries((await ctl.store.allRecords()).filter((r) => r.group === group).map((r) => [r.instanceId, r.state]));
    },
  };
}

const TIERS = `
      tiers:
        - { name: DB, start: { sequence: 0, synchronous: true }, stop: { sequence: 20 } }
        - { name: App, start: { sequence: 10 }, stop: { sequence: 10 } }
        - { name: Web, start: { sequence: 20 }, stop: { sequence: 0 } }`;

describe('workloads selected by their own tags (EnvFilterTagName / EnvFilterTagValue)', () => {
  const config = parseConfigText(`
controller: { tickInterval: 15s }
simulator:
  start: "2026-06-01T00:00:00Z"
  bootTime: { min: 30s, max: 30s }
  groups:
    erp: { instances: 0, tiers: { DB: 1, App: 1, Web: 1 }, tierTag: Role, groupTag: false, instanceTags: { Environment: ENV001 }, targetGroup: false }
    web: { instances: 3, tags: { i-web-003: { Environment: ENV001 } } }
groups:
  - name: web
    fleets: { main: { min: 3, desired: 3 } }
    lifecycle: { warmUp: 30s }
  - name: erp
    lifecycle: { warmUp: 30s }
    workload:
      state: running
      envFilterTag: { key: Environment, value: ENV001 }
      tierTag: Role${TIERS}
`);

  it('instances carrying only Environment=ENV001 and Role are the workload’s, started in tier order; none carries fleetwarden:group-name', async () => {
    const r = rig(config);
    const sim = r.ctl.simulator!;
    assert.equal(sim.tagsOf('i-erp-db-01')?.['fleetwarden:group-name'], undefined, 'the workload’s instances have no group tag');
    await r.runUntil('2026-06-01T00:20:00Z');
    assert.deepEqual(await r.states('erp'), { 'i-erp-app-01': 'running', 'i-erp-db-01': 'running', 'i-erp-web-01': 'running' });
    const firstStart = (id: string): number => sim.actions.find((a) => a.action === 'start' && a.instanceId === id)?.at ?? Infinity;
    assert.ok(firstStart('i-erp-db-01') < firstStart('i-erp-app-01') && firstStart('i-erp-app-01') < firstStart('i-erp-web-01'), 'DB, then App, then Web');
    await r.ctl.close();
  });

  it('an instance both its group tag and a workload’s filter select is managed by neither, and reported', async () => {
    const r = rig(config);
    const sim = r.ctl.simulator!;
    await r.runUntil('2026-06-01T00:20:00Z');
    const web = await r.states('web');
    assert.equal(web['i-web-003'], 'excluded', 'left alone where its group tag puts it');
    assert.equal((await r.states('erp'))['i-web-003'], undefined, 'not managed a second time by the workload');
    assert.equal(web['i-web-001'], 'running');
    assert.deepEqual(sim.actions.filter((a) => a.instanceId === 'i-web-003'), [], 'never started or stopped');
    const problems = (await r.ctl.store.loadGroup('web')).problems;
    const p = problems.find((x) => x.subject === 'i-web-003');
    assert.ok(p, JSON.stringify(problems));
    assert.equal(p.field, 'Environment');
    assert.match(p.reason, /selected by several groups \(web by fleetwarden:group-name=web, erp by Environment=ENV001\)/);
    await r.ctl.close();
  });

  it('two workloads with the same filter, or a filter on a fleetwarden: tag, are refused naming the field', () => {
    const group = (name: string, key: string): string => `  - { name: ${name}, workload: { envFilterTag: { key: ${key}, value: ENV001 }, tierTag: Role, tiers: [{ name: DB, start: { sequence: 0 }, stop: { sequence: 0 } }] } }\n`;
    assert.throws(() => parseConfigText(`groups:\n${group('a', 'Environment')}${group('b', 'Environment')}`), /groups\[1\]\.workload\.envFilterTag: Environment=ENV001 already selects the instances of group "a"/);
    assert.throws(() => parseConfigText(`groups:\n${group('a', '"fleetwarden:owner"')}`), /groups\[0\]\.workload\.envFilterTag\.key: fleetwarden: tags are Fleetwarden's own/);
    assert.throws(() => parseConfigText(`groups:\n${group('a', '"aws:cloudformation:stack-name"')}`), /groups\[0\]\.workload\.envFilterTag\.key: tag keys starting with aws: are reserved/);
  });
});

describe('maintenance windows start tiered workloads', () => {
  // The demo's erp workload, stopped outside business hours (02:00-03:00 on weekdays), with a patch window at 05:00.
  const config = parseConfigText(`
controller: { tickInterval: 15s }
simulator:
  start: "2026-06-01T03:40:00Z"
  bootTime: { min: 40s, max: 80s }
  deregistrationDelay: 45s
  groups:
    erp: { instances: 0, tiers: { DB: 1, App: 2, Web: 2 }, tierTag: Role }
groups:
  - name: erp
    workload:
      state: stopped
      tierTag: Role${TIERS}
    maintenance:
      startAhead: 15m
      windows:
        - { name: FW-erp-patch, schedule: cron(0 5 ? * * *), durationHours: 1 }
`);

  it('a window (start-ahead included) starts a stopped workload in tier order and holds its stop until the window ends', async () => {
    const r = rig(config);
    const sim = r.ctl.simulator!;
    await r.runUntil('2026-06-01T04:44:00Z');
    assert.deepEqual(sim.actions.filter((a) => a.action === 'start'), [], 'nothing starts before start-ahead');
    await r.runUntil('2026-06-01T05:15:00Z');
    const states = await r.states('erp');
    assert.deepEqual(Object.values(states).filter((s) => s === 'running').length, 5, JSON.stringify(states));
    const firstStart = (prefix: string): number => Math.min(...sim.actions.filter((a) => a.action === 'start' && a.instanceId.startsWith(prefix)).map((a) => a.at));
    const lastStart = (prefix: string): number => Math.max(...sim.actions.filter((a) => a.action === 'start' && a.instanceId.startsWith(prefix)).map((a) => a.at));
    assert.ok(firstStart('i-erp-db') >= T('2026-06-01T04:45:00Z'), 'started at start-ahead, 15 minutes before the window');
    assert.ok(lastStart('i-erp-db') < firstStart('i-erp-app') && lastStart('i-erp-app') < firstStart('i-erp-web'), 'DB, then App, then Web');
    await r.runUntil('2026-06-01T05:59:30Z');
    assert.deepEqual(sim.actions.filter((a) => a.action === 'stop' || a.action === 'deregister'), [], 'no stop (nor drain) until the window ends');
    await r.runUntil('2026-06-01T06:30:00Z');
    assert.equal(Object.values(await r.states('erp')).filter((s) => s === 'stopped').length, 5, 'stopped again once the window is over');
    const firstStop = Math.min(...sim.actions.filter((a) => a.action === 'stop').map((a) => a.at));
    assert.ok(firstStop >= T('2026-06-01T06:00:00Z'));
    await r.ctl.close();
  });
});
