/**
 * Window tasks end to end on the simulated cloud with the real reconciler: a rolling drain through a target group
 * (deregistered → task → registered, never more out than allowed), a script asking for a reboot (exit 194) run
 * again after it, the error budget leaving a failed instance out of service, and a controller restarted in the
 * middle that runs no invocation twice.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { createApiServer, listen } from '../../src/api/server.js';
import { hashToken } from '../../src/api/services.js';
import { type Controller, openSimulatedController, virtualTime } from '../../src/app/compose.js';
import { parseConfigText } from '../../src/config/load.js';
import type { VirtualClock } from '../../src/domain/time.js';
import type { SimAction } from '../../src/providers/simulator/simulator.js';
import { outOfService } from '../reconciler/invariants.js';
import { ROLLING, ROLLING_START, rollingConfigText } from './scenario.js';

const START = ROLLING_START;
const BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function config(task: string, exits = '', faults = ''): ReturnType<typeof parseConfigText> {
  return parseConfigText(rollingConfigText({ task, exits, ...(faults === '' ? {} : { faults }) }));
}

function open(cfg: ReturnType<typeof parseConfigText>, dir: string, clock: VirtualClock, sleep: (ms: number) => Promise<void>): Controller {
  return openSimulatedController(cfg, { stateDir: dir, clock, sleep, worldFile: join(dir, 'world.json'), storePath: join(dir, 'state.db'), owner: 'test' });
}

async function runUntil(ctl: Controller, clock: VirtualClock, iso: string, tolerateFailedTicks = false): Promise<void> {
  while (clock.now() < Date.parse(iso)) {
    // As 'fleetwarden run' does, a tick that fails (observation throttled after every retry) is just skipped.
    if (tolerateFailedTicks) await ctl.reconciler.tick().catch(() => undefined);
    else await ctl.reconciler.tick();
    clock.set(Math.min(clock.now() + 15_000, Date.parse(iso)));
  }
}

function maxOut(log: readonly SimAction[]): number {
  return outOfService(log).max;
}

describe('maintenance tasks on the simulated cloud', () => {
  it('rolling drain: every instance deregistered → patched → registered, two at most, exit 194 rebooted and run again; history and outputs kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-roll-'));
    const { clock, sleep } = virtualTime(Date.parse(START));
    const ctl = open(config(ROLLING), dir, clock, sleep);
    await runUntil(ctl, clock, '2026-06-07T02:40:00Z');
    const [exec] = await ctl.store.executions({ limit: 5 });
    assert.equal(exec?.id, 'web/FW-web-patch/2026-06-07T02:00:00Z');
    assert.equal(exec.status, 'SUCCESS', JSON.stringify(exec.tasks[0]?.invocations.map((i) => [i.target, i.status, i.detail])));
    const log = ctl.simulator!.actions;
    assert.ok(maxOut(log) <= 2, `at most 2 out of service at once, saw ${maxOut(log)}`);
    for (let n = 1; n <= 6; n++) {
      const id = `i-web-00${n}`;
      const mine = log.filter((a) => a.instanceId === id && ['deregister', 'run-script', 'register'].includes(a.action) && a.detail !== 'reboot (exit 194)').map((a) => a.action);
      assert.deepEqual(mine, ['deregister', 'run-script', 'register'], `${id}: ${mine.join(' → ')}`);
    }
    assert.equal(log.filter((a) => a.detail === 'reboot (exit 194)').map((a) => a.instanceId).join(), 'i-web-003', 'the script that asked for a reboot got one');
    const inv3 = exec.tasks[0]!.invocations.find((i) => i.target === 'i-web-003')!;
    assert.deepEqual([inv3.status, inv3.exitCode], ['SUCCESS', 0]);
    assert.equal(log.filter((a) => a.action === 'stop').length, 0, 'nothing stopped in the window');
    // Output: 2500 characters in the store, the full text in the object store.
    assert.match(inv3.output ?? '', /ran patch\nexit 0/);
    assert.equal(readFileSync(join(dir, 'outputs', inv3.outputKey ?? ''), 'utf8'), inv3.output);
    const history = await ctl.store.history({ limit: 1000 });
    assert.ok(history.some((h) => h.type === 'maintenance' && /window execution .* SUCCESS/.test(h.summary)));
    await ctl.close();
    // The CLI reads the same history from the store.
    writeFileSync(join(dir, 'fleetwarden.yaml'), rollingConfigText());
    const cli = (...args: string[]): { code: number | null; out: string; err: string } => {
      const r = spawnSync(process.execPath, [BIN, ...args, '--config', join(dir, 'fleetwarden.yaml'), '--state-dir', dir], { encoding: 'utf8', env: { ...process.env, FLEETWARDEN_URL: '' } });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const list = JSON.parse(cli('executions', 'list', '--json').out) as { executions: { id: string; status: string; tasks: { name: string; succeeded: number; targets: number }[] }[] };
    assert.deepEqual(list.executions.map((e) => [e.id, e.status, e.tasks[0]?.succeeded, e.tasks[0]?.targets]), [['web/FW-web-patch/2026-06-07T02:00:00Z', 'SUCCESS', 6, 6]]);
    const shown = cli('executions', 'show', 'web/FW-web-patch/2026-06-07T02:00:00Z');
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /task patch: SUCCESS/);
    assert.match(shown.out, /--- i-web-003 output \(full: executions\/web\/FW-web-patch\//);
    const bad = cli('executions', 'show', 'nope');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: id: expected <group>\/<window>\/<period start>/m);
  });

  it('the error budget: a failing target stays out of service (reported, never re-registered); the rest are not run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-roll-'));
    const { clock, sleep } = virtualTime(Date.parse(START));
    const ctl = open(config(ROLLING.replace('maxConcurrency: 2', 'maxConcurrency: 1'), ', i-web-002: [1]'), dir, clock, sleep);
    await runUntil(ctl, clock, '2026-06-07T03:30:00Z');
    const [exec] = await ctl.store.executions({ limit: 5 });
    const te = exec!.tasks[0]!;
    assert.equal(te.status, 'FAILED');
    const bad = te.invocations.find((i) => i.target === 'i-web-002')!;
    assert.deepEqual([bad.status, bad.outOfService, bad.exitCode], ['FAILED', true, 1]);
    assert.deepEqual(te.terminated, ['i-web-003', 'i-web-004', 'i-web-005', 'i-web-006']);
    const log = ctl.simulator!.actions.filter((a) => a.instanceId === 'i-web-002');
    assert.equal(log.filter((a) => a.action === 'register').length, 0, 'left out of its target group, even after the window');
    assert.equal(log.filter((a) => a.action === 'stop').length, 0, 'and not stopped either: it is held for an operator');
    assert.equal((await ctl.store.loadGroup('web')).executions.length, 1, 'the execution stays open while it holds the instance out');
    await ctl.store.setControl({ instanceId: 'i-web-002', kind: 'return-to-service', until: clock.now() + 3_600_000, reason: 'fixed by hand' }, clock.now());
    await runUntil(ctl, clock, '2026-06-07T03:32:00Z');
    assert.equal(ctl.simulator!.actions.filter((a) => a.instanceId === 'i-web-002' && a.action === 'register').length, 1, 'the operator put it back');
    assert.equal((await ctl.store.loadGroup('web')).executions.length, 0, 'nothing held any more');
    const [after] = await ctl.store.executions({ limit: 1 });
    assert.equal(after?.tasks[0]?.status, 'FAILED', 'the failure stays on record');
    await ctl.close();
  });

  it('with 30% of calls throttled and no retry: failed calls are repaired, nothing lost, every instance patched exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-roll-'));
    const { clock, sleep } = virtualTime(Date.parse(START));
    const ctl = openSimulatedController(config(ROLLING, '', '{ throttleRate: 0.3 }'), { stateDir: dir, clock, sleep, worldFile: join(dir, 'world.json'), storePath: join(dir, 'state.db'), owner: 'test', retry: { attempts: 1, baseMs: 10, maxMs: 20 } });
    await runUntil(ctl, clock, '2026-06-07T03:00:00Z', true);
    const [exec] = await ctl.store.executions({ limit: 1 });
    assert.equal(exec?.status, 'SUCCESS', JSON.stringify(exec?.tasks[0]?.invocations.map((i) => [i.target, i.status, i.detail])));
    const log = ctl.simulator!.actions;
    const runs = new Map<string, number>();
    for (const a of log) if (a.action === 'run-script' && a.detail !== 'reboot (exit 194)') runs.set(a.instanceId, (runs.get(a.instanceId) ?? 0) + 1);
    assert.deepEqual([...runs.values()], [1, 1, 1, 1, 1, 1]);
    assert.ok(maxOut(log) <= 2);
    const history = await ctl.store.history({ limit: 5000 });
    assert.ok(history.some((h) => h.type === 'error' && /maintenance .* failed/.test(h.summary)), 'some maintenance calls failed even after retries, and were repaired');
    await ctl.close();
  });

  it('full outputs older than controller.outputRetention are removed; newer ones stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-roll-'));
    const old = join(dir, 'outputs', 'executions', 'web', 'old.log');
    const recent = join(dir, 'outputs', 'executions', 'web', 'recent.log');
    mkdirSync(dirname(old), { recursive: true });
    writeFileSync(old, 'old');
    writeFileSync(recent, 'recent');
    const { clock, sleep } = virtualTime(Date.parse(START));
    utimesSync(old, new Date(Date.parse(START) - 91 * 86_400_000), new Date(Date.parse(START) - 91 * 86_400_000));
    utimesSync(recent, new Date(Date.parse(START) - 89 * 86_400_000), new Date(Date.parse(START) - 89 * 86_400_000));
    const ctl = open(config(ROLLING), dir, clock, sleep);
    await ctl.reconciler.tick();
    await ctl.close();
    assert.deepEqual([existsSync(old), existsSync(recent)], [false, true]);
  });

  it('executions cancel (CLI on the store) mid-roll: running scripts cancelled, nothing new started, every instance back; CANCELLED; a second cancel is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-roll-'));
    const text = rollingConfigText({ duration: '10m' });
    writeFileSync(join(dir, 'fleetwarden.yaml'), text);
    const { clock, sleep } = virtualTime(Date.parse(START));
    let ctl = open(parseConfigText(text), dir, clock, sleep);
    await runUntil(ctl, clock, '2026-06-07T02:03:00Z');
    assert.deepEqual(ctl.simulator!.actions.filter((a) => a.action === 'run-script').map((a) => a.instanceId), ['i-web-001', 'i-web-002'], 'the first batch is running its 10-minute script');
    await ctl.close();
    const id = 'web/FW-web-patch/2026-06-07T02:00:00Z';
    const cli = (...args: string[]): { code: number | null; out: string; err: string } => {
      const r = spawnSync(process.execPath, [BIN, ...args, '--config', join(dir, 'fleetwarden.yaml'), '--state-dir', dir], { encoding: 'utf8', env: { ...process.env, FLEETWARDEN_URL: '' } });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const asked = cli('executions', 'cancel', id, '--reason', 'the patch breaks the app');
    assert.equal(asked.code, 0, asked.err);
    assert.match(asked.out, /cancel requested; the controller cancels it on its next tick .* \(by cli \S+@\S+ at /);
    ctl = open(parseConfigText(text), dir, clock, sleep);
    await runUntil(ctl, clock, '2026-06-07T02:06:00Z');
    const exec = (await ctl.store.execution(id))!;
    assert.equal(exec.status, 'CANCELLED');
    assert.match(exec.cancel?.by ?? '', /^cli \S+@\S+$/);
    const te = exec.tasks[0]!;
    assert.deepEqual(te.invocations.map((i) => [i.target, i.status, i.outOfService]), [['i-web-001', 'CANCELLED', false], ['i-web-002', 'CANCELLED', false]]);
    assert.deepEqual(te.terminated, ['i-web-003', 'i-web-004', 'i-web-005', 'i-web-006']);
    const log = ctl.simulator!.actions;
    assert.deepEqual(log.filter((a) => a.action === 'cancel-script').map((a) => [a.instanceId, a.ok]), [['i-web-001', true], ['i-web-002', true]], 'each running script stopped once');
    assert.equal(log.filter((a) => a.action === 'run-script').length, 2, 'no script started after the cancel');
    assert.deepEqual([...outOfService(log).still], [], 'every instance is back in its target group');
    assert.deepEqual(await ctl.store.cancelRequests('web'), [], 'the request was taken');
    const history = await ctl.store.history({ limit: 500, group: 'web' });
    assert.ok(history.some((h) => /window execution .*: cancelled by cli .* \(the patch breaks the app\)/.test(h.summary)));
    assert.ok(history.some((h) => /window execution .*: CANCELLED \(cancelled by cli /.test(h.summary)));
    await ctl.close();
    const shown = cli('executions', 'show', id);
    assert.match(shown.out, /^web\/FW-web-patch\/2026-06-07T02:00:00Z: CANCELLED/m);
    assert.match(shown.out, /^cancelled by cli \S+ at \S+: the patch breaks the app$/m);
    assert.match(shown.out, /^i-web-001 +CANCELLED .* cancelled: back in service$/m);
    const late = cli('executions', 'cancel', id, '--reason', 'again');
    assert.equal(late.code, 2);
    assert.match(late.err, /^error: id: execution web\/FW-web-patch\/2026-06-07T02:00:00Z already ended CANCELLED at .*: nothing to cancel$/m);
    // Through a controller's API the same refusal is HTTP 409, and the CLI exits 2 with the same message.
    const store = new (await import('../../src/store/sqlite/store.js')).SqliteStore(join(dir, 'state.db'));
    const server = createApiServer({ store, config: parseConfigText(text), clock, live: null, adminTokenHash: hashToken('admin-token-for-test') });
    const { port } = await listen(server, '127.0.0.1', 0);
    const viaApi = await promisify(execFile)(process.execPath, [BIN, 'executions', 'cancel', id, '--reason', 'again', '--url', `http://127.0.0.1:${port}`, '--token', 'admin-token-for-test'], { encoding: 'utf8' }).then(() => ({ code: 0, stderr: '' }), (e: unknown) => e as { code: number; stderr: string });
    server.closeAllConnections();
    server.close();
    await store.close();
    assert.equal(viaApi.code, 2);
    assert.match(viaApi.stderr, /^error: id: execution .* already ended CANCELLED at .*: nothing to cancel$/m);
  });

  it('seed 001 (MaxErrors 0 aborts the window): the document task fails on one instance, the health check never starts, FAILED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-roll-'));
    const text = `
controller: { tickInterval: 15s, leaseTtl: 1m }
simulator:
  start: "${START}"
  groups:
    web:
      instances: 3
      running: true
      commands:
        - { match: "AWS-RunPatchBaseline Operation=Scan", duration: 30s, exits: { i-web-002: [1] } }
groups:
  - name: web
    fleets: { main: { min: 3, desired: 3 } }
    maintenance:
      windows:
        - name: PatchWithHealthcheck
          description: Daily patch event with a healthcheck afterward
          schedule: cron(0 2 * * ? *)
          durationHours: 3
          cutoffHours: 1
          tasks:
            - { name: patch, priority: 10, document: AWS-RunPatchBaseline, parameters: { Operation: [Scan] }, maxConcurrency: 100%, maxErrors: 0, timeout: 1h }
            - { name: healthcheck, priority: 20, command: /opt/healthcheck.sh, maxConcurrency: 100%, maxErrors: 0 }
`;
    const { clock, sleep } = virtualTime(Date.parse(START));
    const ctl = open(parseConfigText(text), dir, clock, sleep);
    await runUntil(ctl, clock, '2026-06-07T02:10:00Z');
    const [exec] = await ctl.store.executions({ limit: 1 });
    assert.deepEqual([exec?.status, exec?.description], ['FAILED', 'Daily patch event with a healthcheck afterward']);
    const [patch, health] = exec!.tasks;
    assert.deepEqual(patch!.invocations.map((i) => [i.target, i.status]), [['i-web-001', 'SUCCESS'], ['i-web-002', 'FAILED'], ['i-web-003', 'SUCCESS']]);
    assert.match(patch!.invocations[1]!.output ?? '', /^ran AWS-RunPatchBaseline Operation=Scan\nexit 1$/);
    assert.deepEqual([health!.status, health!.detail], ['CANCELLED', 'not started: task patch exceeded its error budget (onTaskFailure: abort)']);
    assert.equal(ctl.simulator!.actions.filter((a) => a.action === 'run-script').length, 3, 'only the patch ran');
    await ctl.close();
  });

  it('a controller restarted mid-execution resumes it: no invocation runs twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-roll-'));
    const { clock, sleep } = virtualTime(Date.parse(START));
    let ctl = open(config(ROLLING), dir, clock, sleep);
    await runUntil(ctl, clock, '2026-06-07T02:04:00Z');
    assert.ok(ctl.simulator!.actions.some((a) => a.action === 'run-script'), 'stopped while tasks were running');
    await ctl.close();
    ctl = open(config(ROLLING), dir, clock, sleep);
    await runUntil(ctl, clock, '2026-06-07T02:40:00Z');
    const runs = ctl.simulator!.actions.filter((a) => a.action === 'run-script' && a.detail !== 'reboot (exit 194)');
    const perInstance = new Map<string, number>();
    for (const r of runs) perInstance.set(r.instanceId, (perInstance.get(r.instanceId) ?? 0) + 1);
    assert.deepEqual([...perInstance.values()], [1, 1, 1, 1, 1, 1], JSON.stringify([...perInstance]));
    assert.equal((await ctl.store.executions({ limit: 1 }))[0]?.status, 'SUCCESS');
    assert.ok(readdirSync(join(dir, 'outputs')).length > 0);
    await ctl.close();
  });
});
