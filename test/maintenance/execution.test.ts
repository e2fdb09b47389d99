/**
 * The window-execution engine in a small deterministic world that carries out its actions the way a cloud and
 * its instances would (deregistration takes time, scripts take time and exit as scripted, a put-back target turns
 * healthy later), asserting outcomes over many ticks: concurrency, priorities, the MaxErrors stop, the capacity
 * floor, failed targets left out of service, the cutoff, an operator's cancel, a failed task stopping (or not)
 * the later priorities.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskDecl } from '../../src/config/config.js';
import type { TargetHealth } from '../../src/domain/model.js';
import { parseMaxConcurrency, parseMaxErrors } from '../../src/maintenance/dispatch.js';
import { advanceExecution, heldInstances, type MaintenanceAction, newExecution, type TargetView } from '../../src/maintenance/execution.js';
import type { CancelRequest, TaskRunResult, WindowExecution } from '../../src/maintenance/model.js';

const T0 = Date.parse('2026-06-07T02:00:00Z');
const S = 1000;
const TICK = 5 * S;

function task(name: string, over: Partial<TaskDecl> = {}): TaskDecl {
  return { name, priority: 1, command: `echo ${name}`, document: null, output: null, runAfterFailure: false, targets: null, maxConcurrency: parseMaxConcurrency('1'), maxErrors: parseMaxErrors('0'), timeoutMs: 600 * S, cutoffBehavior: 'continue', rerunOnResume: false, drain: false, capacityFloor: { kind: 'absolute', value: 0 }, healthCheck: null, settleMs: 0, ...over };
}

interface Script {
  /** Exit code of each run (the last repeats); 0 by default. */
  exits?: number[];
  durationMs?: number;
  healthExits?: number[];
}

/** A world of instances behind one target group, carrying out the engine's actions. */
class World {
  now = T0;
  readonly tg = new Map<string, { health: TargetHealth; until: number; next: TargetHealth | null }>();
  readonly pending: { at: number; result: TaskRunResult }[] = [];
  readonly runs = new Map<string, number>();
  readonly healthRuns = new Map<string, number>();
  readonly log: string[] = [];
  maxOut = 0;
  minServing = Infinity;
  probes = new Map<string, boolean>();

  constructor(readonly ids: string[], readonly scripts: Record<string, Script> = {}, readonly withTg = true) {
    for (const id of ids) if (withTg) this.tg.set(id, { health: 'healthy', until: 0, next: null });
  }

  view(): Map<string, TargetView> {
    return new Map(this.ids.map((id) => {
      const t = this.tg.get(id);
      return [id, { id, running: true, healthy: true, targets: t === undefined ? {} : { 'tg-1': t.health }, tags: { n: id }, fleet: 'main' }];
    }));
  }

  /** Runs until the execution ends (or `limit` ticks), feeding results; returns the final execution. */
  readonly actions: MaintenanceAction[] = [];
  readonly notes: string[] = [];

  run(exec0: WindowExecution, tasks: TaskDecl[], opts: { drainWaitMs?: number; deregistrationDelays?: ReadonlyMap<string, number>; probe?: number | null; limit?: number; onTick?: (e: WindowExecution) => void; returnToService?: Set<string>; untilQuiet?: boolean; onTaskFailure?: 'abort' | 'continue'; cancel?: CancelRequest } = {}): WindowExecution {
    let exec = exec0;
    for (let n = 0; n < (opts.limit ?? 2000) && (exec.status === 'IN_PROGRESS' || (opts.untilQuiet === true && n < 100)); n++) {
      for (const [id, t] of this.tg) if (t.next !== null && this.now >= t.until) this.tg.set(id, { health: t.next, until: 0, next: null });
      const due = this.pending.filter((p) => p.at <= this.now);
      this.pending.splice(0, this.pending.length, ...this.pending.filter((p) => p.at > this.now));
      const results = new Map(due.map((p) => [`${p.result.commandId}/${p.result.instanceId}`, p.result]));
      // An operator's cancel is in the store from its `at` on, as the controller would read it every tick.
      const cancel = opts.cancel !== undefined && this.now >= opts.cancel.at ? opts.cancel : null;
      const a = advanceExecution({ exec, tasks, instances: this.view(), results, probes: this.probes, drainWaitMs: opts.drainWaitMs ?? 10 * S, ...(opts.deregistrationDelays ? { deregistrationDelays: opts.deregistrationDelays } : {}), probeTimeLimitMs: opts.probe ?? null, outElsewhere: new Set(), ...(opts.returnToService ? { returnToService: opts.returnToService } : {}), ...(opts.onTaskFailure ? { onTaskFailure: opts.onTaskFailure } : {}), cancel, now: this.now });
      this.probes = new Map();
      exec = a.exec;
      this.actions.push(...a.actions);
      this.notes.push(...a.notes.map((n) => n.summary));
      for (const act of a.actions) {
        switch (act.kind) {
          case 'cancel-script': {
            // The script stops a second later and reports it (SSM Cancelled, the agent's `cancelled`).
            const k = this.pending.findIndex((p) => p.result.commandId === act.commandId);
            this.log.push(`${this.now - T0} cancel ${act.instanceId}`);
            if (k >= 0) this.pending.splice(k, 1, { at: this.now + S, result: { ...this.pending[k]!.result, status: 'cancelled', exitCode: null, output: 'cancelled' } });
            break;
          }
          case 'take-out':
            this.log.push(`${this.now - T0} out ${act.instanceId}`);
            if (this.withTg) this.tg.set(act.instanceId, { health: 'draining', until: this.now + 20 * S, next: 'unused' });
            break;
          case 'put-back':
            this.log.push(`${this.now - T0} back ${act.instanceId}`);
            if (this.withTg) this.tg.set(act.instanceId, { health: 'initial', until: this.now + 15 * S, next: 'healthy' });
            break;
          case 'probe':
            this.probes.set(act.instanceId, true);
            break;
          case 'run-script': {
            const sc = this.scripts[act.instanceId] ?? {};
            const counter = act.purpose === 'task' ? this.runs : this.healthRuns;
            const k = counter.get(act.instanceId) ?? 0;
            counter.set(act.instanceId, k + 1);
            const exits = (act.purpose === 'task' ? sc.exits : sc.healthExits) ?? [0];
            const exit = exits[Math.min(k, exits.length - 1)] ?? 0;
            this.log.push(`${this.now - T0} ${act.purpose} ${act.instanceId}`);
            this.pending.push({ at: this.now + (act.purpose === 'task' ? (sc.durationMs ?? 30 * S) : 2 * S), result: { commandId: act.commandId, instanceId: act.instanceId, status: exit === 0 ? 'success' : 'failed', exitCode: exit, output: `${'x'.repeat(3000)}\nexit ${exit}`, at: this.now, reboots: 0 } });
            break;
          }
        }
      }
      const out = heldInstances([exec]).outOfService;
      this.maxOut = Math.max(this.maxOut, out.size);
      if (this.withTg) this.minServing = Math.min(this.minServing, [...this.tg.values()].filter((t) => t.health === 'healthy').length);
      opts.onTick?.(exec);
      this.now += TICK;
    }
    return exec;
  }
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `i-${String(i + 1).padStart(2, '0')}`);

describe('window execution engine', () => {
  it('a plain task runs on every target, at most MaxConcurrency at a time, keeping 2500 characters of output', () => {
    const w = new World(ids(5));
    const t = task('patch', { maxConcurrency: parseMaxConcurrency('2') });
    let maxRunning = 0;
    const exec = w.run(newExecution('web', 'FW-web', T0, T0 + 3_600_000, T0 + 3_600_000, [t], T0), [t], { onTick: (e) => (maxRunning = Math.max(maxRunning, e.tasks[0]!.invocations.filter((i) => i.status === 'IN_PROGRESS' || i.status === 'PENDING').length)) });
    assert.equal(exec.status, 'SUCCESS');
    assert.equal(maxRunning, 2);
    assert.deepEqual(exec.tasks[0]!.invocations.map((i) => [i.target, i.status, i.exitCode]), ids(5).map((id) => [id, 'SUCCESS', 0]));
    const inv = exec.tasks[0]!.invocations[0]!;
    assert.equal(inv.output?.length, 2500);
    assert.match(inv.outputKey ?? '', /^executions\/web\/FW-web\/2026-06-07T02-00-00-000Z\/patch\/i-01-1\.log$/);
    assert.equal(w.maxOut, 0, 'a plain task takes nothing out of service');
  });

  it('MaxErrors 1: the second error stops dispatch; running invocations finish; the rest are terminated; FAILED', () => {
    const w = new World(ids(6), { 'i-02': { exits: [1] }, 'i-03': { exits: [2] } });
    const t = task('patch', { maxErrors: parseMaxErrors('1') });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 7_200_000, T0 + 7_200_000, [t], T0), [t]);
    const te = exec.tasks[0]!;
    assert.equal(te.status, 'FAILED');
    assert.deepEqual(te.invocations.map((i) => [i.target, i.status]), [['i-01', 'SUCCESS'], ['i-02', 'FAILED'], ['i-03', 'FAILED']]);
    assert.deepEqual(te.terminated, ['i-04', 'i-05', 'i-06']);
    assert.equal(exec.status, 'FAILED');
  });

  it('priorities: a higher number starts only when every task of the lower one has finished; equal ones run together', () => {
    const w = new World(ids(2));
    const tasks = [task('a', { priority: 1 }), task('b', { priority: 1 }), task('c', { priority: 2 })];
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, tasks, T0), tasks);
    const [a, b, c] = exec.tasks;
    assert.equal(a!.startedAt, b!.startedAt, 'equal priorities start together');
    assert.ok(c!.startedAt! >= Math.max(a!.endedAt!, b!.endedAt!), 'the next priority waits for the previous to finish');
    assert.equal(exec.status, 'SUCCESS');
  });

  it('drain: each batch is taken out, waits for deregistration, runs, is health-checked, put back and healthy before the next; the floor holds', () => {
    const w = new World(ids(6));
    const t = task('reboot', { drain: true, maxConcurrency: parseMaxConcurrency('3'), capacityFloor: { kind: 'absolute', value: 4 }, healthCheck: { command: 'curl -f localhost', timeoutMs: 10 * S, withinMs: 60 * S } });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, [t], T0), [t]);
    assert.equal(exec.status, 'SUCCESS', JSON.stringify(exec.tasks[0]!.invocations.map((i) => i.detail)));
    assert.equal(w.maxOut, 2, 'MaxConcurrency 3, but the floor of 4 of 6 allows only 2 out at a time');
    assert.equal(w.minServing, 4, 'serving capacity never below the floor');
    for (const id of ids(6)) {
      const at = (what: string): number => Number(w.log.find((l) => l.endsWith(`${what} ${id}`))?.split(' ')[0]);
      assert.ok(at('out') < at('task') && at('task') < at('health') && at('health') < at('back'), `${id}: out → task → health → back: ${w.log.filter((l) => l.endsWith(id)).join('; ')}`);
      assert.ok(at('task') - at('out') >= 20 * S, 'the task waits for the deregistration to finish');
    }
    const firstBack = Math.min(...['i-01', 'i-02'].map((id) => Number(w.log.find((l) => l.endsWith(`back ${id}`))?.split(' ')[0])));
    const thirdOut = Number(w.log.find((l) => l.endsWith('out i-03'))?.split(' ')[0]);
    assert.ok(thirdOut > firstBack + 10 * S, 'the next batch waits until the previous one is healthy again');
    assert.ok(exec.tasks[0]!.invocations.every((i) => !i.outOfService));
  });

  it('drain: a target waits for its target group’s deregistration delay too, even when the group lets it go sooner', () => {
    const w = new World(ids(2));
    const t = task('reboot', { drain: true });
    // The target group reports the target gone after 20 s (no request in flight), but its delay is 60 s.
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, [t], T0), [t], { deregistrationDelays: new Map([['tg-1', 60 * S]]) });
    assert.equal(exec.status, 'SUCCESS');
    for (const id of ids(2)) {
      const at = (what: string): number => Number(w.log.find((l) => l.endsWith(`${what} ${id}`))?.split(' ')[0]);
      assert.ok(at('task') - at('out') >= 60 * S, `${id}: the task waited the deregistration delay: ${w.log.filter((l) => l.endsWith(id)).join('; ')}`);
    }
  });

  it('drain: a target whose health check never passes stays out of service and is reported; the error budget stops the rest', () => {
    const w = new World(ids(4), { 'i-02': { healthExits: [1] } });
    const t = task('patch', { drain: true, healthCheck: { command: 'check', timeoutMs: 5 * S, withinMs: 40 * S } });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, [t], T0), [t]);
    const te = exec.tasks[0]!;
    assert.equal(te.status, 'FAILED');
    const bad = te.invocations.find((i) => i.target === 'i-02')!;
    assert.deepEqual([bad.status, bad.outOfService], ['FAILED', true]);
    assert.match(bad.detail, /health check did not pass within 40s; left out of service/);
    assert.ok((w.healthRuns.get('i-02') ?? 0) > 1, 'checked again before giving up');
    assert.deepEqual(te.terminated, ['i-03', 'i-04'], 'MaxErrors 0: nothing more is taken out');
    assert.deepEqual([...heldInstances([exec]).outOfService], ['i-02'], 'it is still held out of service after the execution');
    assert.equal(w.tg.get('i-02')?.health, 'unused');
    // The operator fixed it: the control return-to-service puts it back; the failure stays on record.
    const after = w.run(exec, [t], { returnToService: new Set(['i-02']), untilQuiet: true });
    const back = after.tasks[0]!.invocations.find((i) => i.target === 'i-02')!;
    assert.deepEqual([back.status, back.outOfService, back.phase], ['FAILED', false, 'done']);
    assert.match(back.detail, /returned to service by an operator/);
    assert.equal(w.tg.get('i-02')?.health, 'healthy');
    assert.deepEqual([...heldInstances([after]).outOfService], []);
  });

  it('drain with the ready-for-shutdown probe: the task waits for it', () => {
    const w = new World(ids(1));
    const t = task('patch', { drain: true });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, [t], T0), [t], { probe: 60 * S });
    assert.equal(exec.status, 'SUCCESS');
    assert.match(exec.tasks[0]!.invocations[0]!.detail, /back in service/);
  });

  it('cutoff with cancel: drained targets not yet run go back, nothing new starts, the task ends TIMED_OUT; later priorities never start', () => {
    const w = new World(ids(4), { 'i-01': { durationMs: 120 * S } });
    const tasks = [task('patch', { drain: true, maxConcurrency: parseMaxConcurrency('2'), cutoffBehavior: 'cancel' }), task('after', { priority: 2 })];
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 40 * S, tasks, T0), tasks);
    const [patch, after] = exec.tasks;
    assert.equal(patch!.status, 'TIMED_OUT');
    assert.deepEqual(patch!.terminated, ['i-03', 'i-04']);
    assert.equal(after!.status, 'CANCELLED');
    assert.equal(exec.status, 'TIMED_OUT');
    assert.ok(patch!.invocations.every((i) => !i.outOfService), 'nothing left out of service by the cutoff');
  });

  it('targets by ids, tags and fleets; none running: SUCCESS with nothing to do', () => {
    const w = new World(ids(3));
    const t = task('only', { targets: { ids: ['i-02', 'i-09'] } });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, [t], T0), [t]);
    assert.deepEqual(exec.tasks[0]!.targets, ['i-02']);
    const none = task('none', { targets: { tags: { n: 'nobody' } } });
    const e2 = new World(ids(2)).run(newExecution('web', 'w2', T0, T0 + 3_600_000, T0 + 3_600_000, [none], T0), [none]);
    assert.deepEqual([e2.status, e2.tasks[0]!.detail], ['SUCCESS', 'no target: nothing to do']);
  });
});

describe('window execution engine: cancelling, task failures, documents', () => {
  it('cutoff with cancel cancels the running scripts (they do not run to the end) and puts their targets back', () => {
    const w = new World(ids(3), { 'i-01': { durationMs: 300 * S }, 'i-02': { durationMs: 300 * S } });
    const t = task('patch', { drain: true, maxConcurrency: parseMaxConcurrency('2'), cutoffBehavior: 'cancel' });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 60 * S, [t], T0), [t], { untilQuiet: true });
    const te = exec.tasks[0]!;
    assert.deepEqual(te.invocations.map((i) => [i.target, i.status, i.outOfService]), [['i-01', 'CANCELLED', false], ['i-02', 'CANCELLED', false]]);
    assert.deepEqual(te.terminated, ['i-03']);
    assert.equal(te.status, 'TIMED_OUT');
    assert.ok(Math.max(...te.invocations.map((i) => i.endedAt!)) < T0 + 300 * S, 'ended well before the scripts would have');
    assert.deepEqual([w.tg.get('i-01')?.health, w.tg.get('i-02')?.health], ['healthy', 'healthy'], 'both back in their target group');
  });

  it('an operator cancel: running scripts cancelled, draining targets put back, nothing new starts, a failed target stays out, CANCELLED', () => {
    // i-01 fails (exit 1, within MaxErrors 3) and is left out; i-02 and i-03 are running, i-04 draining when the cancel comes.
    const w = new World(ids(6), { 'i-01': { exits: [1], durationMs: 10 * S }, 'i-02': { durationMs: 600 * S }, 'i-03': { durationMs: 600 * S } });
    const patch = task('patch', { drain: true, maxConcurrency: parseMaxConcurrency('3'), maxErrors: parseMaxErrors('3') });
    const later = task('report', { priority: 2 });
    const cancel: CancelRequest = { execution: 'web/w/2026-06-07T02:00:00Z', group: 'web', by: 'cli ops@host', reason: 'the patch breaks the app', at: T0 + 100 * S };
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, [patch, later], T0), [patch, later], { cancel, drainWaitMs: 60 * S, untilQuiet: true });
    const [p, r] = exec.tasks;
    assert.equal(exec.status, 'CANCELLED');
    assert.deepEqual(exec.cancel, cancel, 'who and when are kept with the execution');
    assert.deepEqual(p!.invocations.map((i) => [i.target, i.status, i.outOfService]), [['i-01', 'FAILED', true], ['i-02', 'CANCELLED', false], ['i-03', 'CANCELLED', false], ['i-04', 'CANCELLED', false]]);
    assert.deepEqual(p!.terminated, ['i-05', 'i-06'], 'no new target after the cancel');
    assert.equal(p!.status, 'CANCELLED');
    assert.deepEqual([r!.status, r!.detail], ['CANCELLED', 'not started: the execution was cancelled by cli ops@host']);
    assert.equal(w.runs.get('i-04'), undefined, 'the draining target never ran');
    assert.deepEqual(w.log.filter((l) => / cancel /.test(l)).map((l) => l.split(' ')[2]), ['i-02', 'i-03'], 'one cancel per running script');
    assert.deepEqual([...heldInstances([exec]).outOfService], ['i-01'], 'only the failed target stays out, for an operator');
    assert.deepEqual(['i-02', 'i-03', 'i-04'].map((id) => w.tg.get(id)?.health), ['healthy', 'healthy', 'healthy']);
    assert.ok(w.notes.some((n) => /cancelled by cli ops@host at 2026-06-07T02:01:40.000Z \(the patch breaks the app\)/.test(n)));
  });

  it('seed 001, MaxErrors 0 (onTaskFailure abort, the default): the failed patch stops the later priority; FAILED', () => {
    const w = new World(ids(3), { 'i-02': { exits: [1] } });
    const tasks = [task('patch', { priority: 10, maxConcurrency: parseMaxConcurrency('100%') }), task('healthcheck', { priority: 20, maxConcurrency: parseMaxConcurrency('100%') })];
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, tasks, T0), tasks);
    const [patch, health] = exec.tasks;
    assert.equal(patch!.status, 'FAILED');
    assert.deepEqual([health!.status, health!.invocations.length], ['CANCELLED', 0]);
    assert.match(health!.detail, /not started: task patch exceeded its error budget/);
    assert.equal(w.log.filter((l) => l.includes(' task ')).length, 3, 'only the patch ran (on the three, at once)');
    assert.equal(exec.status, 'FAILED');
  });

  it('onTaskFailure continue: later tasks run, but not where an earlier task failed, unless runAfterFailure', () => {
    const tasks = (after: boolean) => [task('patch', { priority: 10, maxConcurrency: parseMaxConcurrency('100%') }), task('healthcheck', { priority: 20, maxConcurrency: parseMaxConcurrency('100%'), runAfterFailure: after })];
    const w = new World(ids(3), { 'i-02': { exits: [1] } });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, tasks(false), T0), tasks(false), { onTaskFailure: 'continue' });
    const health = exec.tasks[1]!;
    assert.deepEqual(health.invocations.map((i) => [i.target, i.status]), [['i-01', 'SUCCESS'], ['i-03', 'SUCCESS']]);
    assert.deepEqual(health.skipped, ['i-02']);
    assert.equal(w.runs.get('i-02'), 1, 'the failed instance ran the patch only');
    assert.equal(exec.status, 'FAILED', 'the failed patch still fails the execution');
    const w2 = new World(ids(3), { 'i-02': { exits: [1] } });
    const opted = w2.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, tasks(true), T0), tasks(true), { onTaskFailure: 'continue' });
    assert.deepEqual(opted.tasks[1]!.invocations.map((i) => i.target), ['i-01', 'i-02', 'i-03'], 'runAfterFailure: true runs there too');
  });

  it('within the error budget the next priority runs even with abort, skipping the instance that failed', () => {
    const w = new World(ids(3), { 'i-02': { exits: [1] } });
    const tasks = [task('patch', { priority: 1, maxErrors: parseMaxErrors('1') }), task('report', { priority: 2 })];
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, tasks, T0), tasks);
    assert.deepEqual(exec.tasks.map((t) => t.status), ['FAILED', 'SUCCESS']);
    assert.deepEqual(exec.tasks[1]!.targets, ['i-01', 'i-03']);
  });

  it('a document task is sent as the document with its parameters and output location, described for logs and the simulator', () => {
    const w = new World(ids(1));
    const t = task('scan', { command: null, document: { name: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] } }, output: { bucket: 'ops-logs', prefix: 'ssm_output/' } });
    const exec = w.run(newExecution('web', 'w', T0, T0 + 3_600_000, T0 + 3_600_000, [t], T0, 'Daily patch scan'), [t]);
    const sent = w.actions.find((a) => a.kind === 'run-script');
    assert.deepEqual(sent?.kind === 'run-script' ? [sent.script, sent.document, sent.output] : [], ['AWS-RunPatchBaseline Operation=Scan', { name: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] } }, { bucket: 'ops-logs', prefix: 'ssm_output/' }]);
    assert.deepEqual([exec.status, exec.description], ['SUCCESS', 'Daily patch scan']);
  });
});
