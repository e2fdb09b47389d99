import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { namingFor } from '../../src/config/config.js';
import { VirtualClock } from '../../src/domain/time.js';
import { LOG_KEEP, SCRIPT_KEEP_MS, Simulator, ThrottledError, UNREAD_SCRIPT_KEEP_MS } from '../../src/providers/simulator/simulator.js';
import type { SimulatorSpec } from '../../src/config/simulator-spec.js';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const naming = namingFor('fleetwarden');
const KEY = 'fleetwarden:group-name';

function sim(spec: Partial<SimulatorSpec> = {}, file: string | null = null): { s: Simulator; clock: VirtualClock } {
  const clock = new VirtualClock(T0);
  const full: SimulatorSpec = { bootTime: { min: '60s', max: '60s' }, stopTime: '20s', deregistrationDelay: '30s', healthyAfter: '30s', groups: { web: { instances: 2 } }, ...spec };
  return { s: new Simulator(full, naming, clock, file), clock };
}

async function power(s: Simulator, id: string): Promise<string | undefined> {
  return (await s.listInstances([KEY])).find((i) => i.id === id)?.power;
}

describe('simulator', () => {
  it('maintenance scripts: scripted exits, exit 194 reboots (health initializing) and runs again; a repeated id runs once', async () => {
    const { s, clock } = sim({ groups: { web: { instances: 2, running: true, rebootTime: '60s', commands: [{ match: 'patch', duration: '10s', exits: { 'i-web-001': [194, 0], 'i-web-002': [3] } }] } } });
    const h1 = await s.runScript('web', 'i-web-001', 'mw-1', 'yum patch');
    const again = await s.runScript('web', 'i-web-001', 'mw-1', 'yum patch');
    assert.deepEqual(again, h1, 'the same id: the same command, not a second run');
    const h2 = await s.runScript('web', 'i-web-002', 'mw-2', 'yum patch');
    clock.set(T0 + 20_000);
    assert.equal((await s.listInstances([KEY])).find((i) => i.id === 'i-web-001')?.health, 'initializing', 'rebooting');
    const early = await s.results([h1, h2]);
    assert.deepEqual(early.scripts?.map((r) => [r.instanceId, r.status, r.exitCode]), [['i-web-002', 'failed', 3]]);
    clock.set(T0 + 80_000);
    const done = await s.results([h1]);
    assert.deepEqual(done.scripts?.map((r) => [r.commandId, r.status, r.exitCode, r.reboots]), [['mw-1', 'success', 0, 1]]);
    assert.equal(s.actions.filter((a) => a.action === 'run-script' && a.detail !== 'reboot (exit 194)').length, 2);
  });

  it('a long-lived world keeps the last LOG_KEEP actions, and forgets a script SCRIPT_KEEP_MS after its result was read (UNREAD_SCRIPT_KEEP_MS if never)', async () => {
    const { s, clock } = sim({ groups: { web: { instances: 2, running: true } } });
    const old = await s.runScript('web', 'i-web-001', 'mw-old', 'yum patch');
    const unread = await s.runScript('web', 'i-web-001', 'mw-unread', 'yum patch');
    clock.set(T0 + 60_000);
    assert.equal((await s.results([old])).scripts?.[0]?.status, 'success');
    // Over a day of starts and stops: more actions than the log keeps.
    const actions = LOG_KEEP * 1.2;
    const step = Math.ceil((SCRIPT_KEEP_MS * 1.1) / actions);
    let at = T0 + 60_000;
    for (let n = 0; n < actions; n++) {
      at += step;
      clock.set(at);
      await (n % 2 === 0 ? s.stop(['i-web-002'], { force: false }) : s.start(['i-web-002']));
    }
    const recent = await s.runScript('web', 'i-web-001', 'mw-recent', 'yum patch');
    clock.set(at + 60_000);
    await s.listInstances([KEY]); // the world moves on (and forgets) at each call
    const log = s.actions;
    assert.ok(log.length <= LOG_KEEP * 1.1 && log.length >= LOG_KEEP, `${log.length} actions kept`);
    assert.equal(log.at(-1)?.detail, 'script', 'the newest action is kept');
    assert.equal(log.some((a) => a.action === 'run-script' && a.at === T0), false, 'the oldest are gone');
    assert.ok(at + 60_000 - T0 > SCRIPT_KEEP_MS, 'the first script ended over SCRIPT_KEEP_MS ago');
    // The recent script's result can be read again; the old one is forgotten, as a command past its retention.
    assert.equal((await s.results([recent])).scripts?.[0]?.status, 'success');
    assert.equal((await s.results([recent])).scripts?.[0]?.commandId, 'mw-recent');
    assert.deepEqual(await s.results([old]), { events: [], bypass: [], scripts: [], finished: ['mw-old'] });
    // Its id too: the same id is a new run now.
    const again = await s.runScript('web', 'i-web-001', 'mw-old', 'yum patch');
    assert.equal(again.sentAt, at + 60_000);
    // A result no controller read (one stopped for days) is kept as SSM keeps it, then forgotten.
    assert.equal((await s.results([unread])).scripts?.[0]?.commandId, 'mw-unread', 'kept, though it ended over a day ago');
    const never = await s.runScript('web', 'i-web-001', 'mw-never', 'yum patch');
    clock.set(at + 60_000 + UNREAD_SCRIPT_KEEP_MS - 3_600_000);
    await s.listInstances([KEY]);
    assert.equal((await s.results([never])).scripts?.length, 1, 'unread, kept for UNREAD_SCRIPT_KEEP_MS');
    const never2 = await s.runScript('web', 'i-web-001', 'mw-never-2', 'yum patch');
    clock.set(at + 60_000 + 2 * UNREAD_SCRIPT_KEEP_MS);
    await s.listInstances([KEY]);
    assert.deepEqual(await s.results([never2]), { events: [], bypass: [], scripts: [], finished: ['mw-never-2'] });
  });

  it('boots after the boot time, reports health initializing then ok, and stops after the stop time', async () => {
    const { s, clock } = sim();
    assert.deepEqual(await s.start(['i-web-001']), [{ instanceId: 'i-web-001', ok: true }]);
    assert.equal(await power(s, 'i-web-001'), 'pending');
    clock.set(T0 + 60_000);
    const up = (await s.listInstances([KEY])).find((i) => i.id === 'i-web-001');
    assert.deepEqual([up?.power, up?.health], ['running', 'initializing']);
    clock.set(T0 + 90_000);
    assert.equal((await s.listInstances([KEY])).find((i) => i.id === 'i-web-001')?.health, 'ok');
    await s.stop(['i-web-001'], { force: false });
    assert.equal(await power(s, 'i-web-001'), 'stopping');
    clock.set(T0 + 110_000);
    assert.equal(await power(s, 'i-web-001'), 'stopped');
    assert.deepEqual(s.actions.map((a) => `${a.action}:${a.detail}`), ['start:stopped', 'stop:running']);
  });

  it('target health: unused while stopped, initial then healthy after boot, draining for the deregistration delay, then gone', async () => {
    const { s, clock } = sim();
    assert.deepEqual((await s.targetHealth()).get('i-web-001'), { 'tg-web': 'unused' });
    await s.start(['i-web-001']);
    clock.set(T0 + 60_000);
    assert.deepEqual((await s.targetHealth()).get('i-web-001'), { 'tg-web': 'initial' });
    clock.set(T0 + 90_000);
    assert.deepEqual((await s.targetHealth()).get('i-web-001'), { 'tg-web': 'healthy' });
    await s.deregister('tg-web', ['i-web-001']);
    assert.deepEqual((await s.targetHealth()).get('i-web-001'), { 'tg-web': 'draining' });
    clock.set(T0 + 120_000);
    assert.equal((await s.targetHealth()).get('i-web-001'), undefined);
    assert.equal(s.nextEventAfter(T0 + 120_000), null, 'nothing left to happen by itself');
  });

  it('target health is the same answer, by reference, until something changes it; every change shows at once', async () => {
    const { s, clock } = sim();
    const of = async (): Promise<Readonly<Record<string, string>> | undefined> => (await s.targetHealth()).get('i-web-001');
    const first = await s.targetHealth();
    clock.set(T0 + 10_000);
    assert.equal(await s.targetHealth(), first, 'nothing changed: the same map');
    await s.start(['i-web-001']);
    clock.set(T0 + 20_000);
    assert.deepEqual(await of(), { 'tg-web': 'unused' }, 'still booting');
    clock.set(T0 + 70_000);
    assert.deepEqual(await of(), { 'tg-web': 'initial' }, 'a boot that ended');
    const booted = await s.targetHealth();
    clock.set(T0 + 80_000);
    assert.equal(await s.targetHealth(), booted);
    clock.set(T0 + 100_000);
    assert.deepEqual(await of(), { 'tg-web': 'healthy' }, 'checks that passed, with nothing else happening');
    await s.deregister('tg-web', ['i-web-001']);
    assert.deepEqual(await of(), { 'tg-web': 'draining' }, 'an action, at the same instant');
    clock.set(T0 + 130_000);
    assert.equal(await of(), undefined, 'a deregistration that completed');
    await s.register('tg-web', ['i-web-001']);
    assert.deepEqual(await of(), { 'tg-web': 'initial' });
    await s.stop(['i-web-001'], { force: false });
    clock.set(T0 + 230_000);
    assert.deepEqual(await of(), { 'tg-web': 'unused' }, 'a stop that ended');
  });

  it('runs scripts as the scenario says: ready after an uptime, failing N times, never answering; bypass files', async () => {
    const { s, clock } = sim({ groups: { web: { instances: 1, running: true, scripts: { 'instance-ready-for-operation': { succeedAfterUptime: '2h' }, 'instance-ready-for-shutdown': { failTimes: 2 }, 'enter-maintenance-window-period': { noAnswer: true } }, bypassPresent: ['i-web-001'] } } });
    const results = async (h: Awaited<ReturnType<Simulator['runEvent']>>): Promise<boolean | undefined> => {
      clock.set(clock.now() + 5000);
      return (await s.results([h])).events[0]?.ok;
    };
    assert.equal(await results(await s.runEvent('web', ['i-web-001'], 'instance-ready-for-operation')), false, 'up 1 h of the 2 needed');
    clock.set(clock.now() + 3_600_000);
    assert.equal(await results(await s.runEvent('web', ['i-web-001'], 'instance-ready-for-operation')), true);
    const shutdown = [];
    for (let i = 0; i < 3; i++) shutdown.push(await results(await s.runEvent('web', ['i-web-001'], 'instance-ready-for-shutdown')));
    assert.deepEqual(shutdown, [false, false, true]);
    const hung = await s.runEvent('web', ['i-web-001'], 'enter-maintenance-window-period');
    clock.set(clock.now() + 60_000);
    assert.deepEqual(await s.results([hung]), { events: [], bypass: [], scripts: [], finished: [] });
    assert.equal(await results(await s.runEvent('web', ['i-web-001'], 'exit-maintenance-window-period')), true, 'an absent script counts as success');
    const check = await s.checkBypass('web', ['i-web-001']);
    clock.set(clock.now() + 5000);
    assert.deepEqual((await s.results([check])).bypass.map((b) => b.result), ['present']);
  });

  it('a command to a stopped instance is undeliverable (an event fails; a bypass check is unknown)', async () => {
    const { s, clock } = sim();
    const h = await s.checkBypass('web', ['i-web-001']);
    clock.set(clock.now() + 1000);
    assert.deepEqual((await s.results([h])).bypass.map((b) => b.result), ['unknown']);
  });

  it('injects faults: failing actions, throttled calls, an instance stuck in stopping', async () => {
    const failing = sim({ faults: { errorRate: 1 } }).s;
    assert.equal((await failing.start(['i-web-001']))[0]?.ok, false);
    const throttled = sim({ faults: { throttleRate: 1 } }).s;
    await assert.rejects(throttled.listInstances([KEY]), ThrottledError, 'a throttled call rejects its promise');
    const { s, clock } = sim({ groups: { web: { instances: 1, running: true } }, faults: { stuckStopping: ['i-web-001'] } });
    await s.stop(['i-web-001'], { force: false });
    clock.set(T0 + 3_600_000);
    assert.equal(await power(s, 'i-web-001'), 'stopping');
  });

  it('persists its world: a new simulator on the same file meets the same cloud', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-sim-')), 'world.json');
    const a = sim({}, file);
    await a.s.start(['i-web-002']);
    const b = sim({}, file);
    assert.equal(await power(b.s, 'i-web-002'), 'pending');
    assert.deepEqual(Simulator.readWorld(file).actions.map((x) => `${x.action} ${x.instanceId}`), ['start i-web-002']);
  });

  it('target health changed by another process on the same world file shows at once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-sim-')), 'world.json');
    const a = sim({}, file);
    await a.s.start(['i-web-001']);
    a.clock.set(T0 + 100_000);
    assert.deepEqual((await a.s.targetHealth()).get('i-web-001'), { 'tg-web': 'healthy' });
    const b = sim({}, file);
    b.clock.set(T0 + 100_000);
    await b.s.deregister('tg-web', ['i-web-001']);
    assert.deepEqual((await a.s.targetHealth()).get('i-web-001'), { 'tg-web': 'draining' });
  });
});
