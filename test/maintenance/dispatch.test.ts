/** Task dispatch per docs/maintenance.md#dispatch: concurrency, the MaxErrors stop rule, cutoff, priorities. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCount, parseCount } from '../../src/domain/counts.js';
import { allowedErrors, concurrencyOf, dispatchStep, type InvocationStatus, parseMaxConcurrency, parseMaxErrors, runnablePriority, type TaskSpec, type TaskStatus } from '../../src/maintenance/dispatch.js';

function task(maxConcurrency: string, maxErrors: string, cutoffBehavior: 'continue' | 'cancel' = 'continue', name = 't', priority = 1): TaskSpec {
  return { name, priority, maxConcurrency: parseMaxConcurrency(maxConcurrency), maxErrors: parseMaxErrors(maxErrors), cutoffBehavior };
}

/**
 * Runs a task to the end: each step dispatches, then the oldest running invocation finishes with `outcome(target)`.
 * Returns the targets invoked, in order, and the final status.
 */
function runTask(t: TaskSpec, targets: string[], outcome: (target: string) => InvocationStatus): { invoked: string[]; status: TaskStatus; maxRunning: number } {
  const inv: Record<string, InvocationStatus> = {};
  const invoked: string[] = [];
  let maxRunning = 0;
  for (let step = 0; step < 1000; step++) {
    const d = dispatchStep(t, { targets, invocations: inv }, 0, 1);
    for (const x of d.dispatch) {
      inv[x] = 'IN_PROGRESS';
      invoked.push(x);
    }
    for (const x of d.terminate) inv[x] = 'TERMINATED';
    const running = targets.filter((x) => inv[x] === 'IN_PROGRESS');
    maxRunning = Math.max(maxRunning, running.length);
    if (running.length === 0) return { invoked, status: d.status, maxRunning };
    const first = running[0];
    if (first !== undefined) inv[first] = outcome(first);
  }
  throw new Error('did not finish');
}

const targets = (n: number): string[] => Array.from({ length: n }, (_, i) => `i-${String(i).padStart(2, '0')}`);

describe('limits', () => {
  it('accepts the API patterns and rejects the rest, naming the field', () => {
    for (const ok of ['1', '50', '1234567', '1%', '10%', '100%']) assert.doesNotThrow(() => parseMaxConcurrency(ok), ok);
    for (const bad of ['0', '0%', '101%', '12345678', '-1', '5.5', 'all']) assert.throws(() => parseMaxConcurrency(bad), /maxConcurrency: expected a positive whole number or 1%-100%/, bad);
    for (const ok of ['0', '0%', '3', '10%', '100%']) assert.doesNotThrow(() => parseMaxErrors(ok), ok);
    for (const bad of ['01', '101%', '-1', 'none']) assert.throws(() => parseMaxErrors(bad), /maxErrors: expected a whole number/, bad);
  });

  it('are counts (one type with fleet sizes) that keep the API syntax: no `p`, spaces or leading zeros', () => {
    assert.deepEqual([parseMaxConcurrency('10%'), parseMaxErrors('2')], [parseCount('10%', 'x'), parseCount('2', 'x')]);
    assert.deepEqual([parseMaxConcurrency('10%'), parseMaxErrors('0')].map(formatCount), ['10%', '0']);
    for (const bad of ['5p', ' 5', '05', '05%']) assert.throws(() => parseMaxConcurrency(bad), /maxConcurrency: expected a positive whole number or 1%-100%/, bad);
    assert.deepEqual([parseCount('5p', 'x'), parseCount(' 5', 'x')], [{ kind: 'percent', value: 5 }, { kind: 'absolute', value: 5 }], 'fleet counts accept them');
  });

  it('percentages of the targets round down, concurrency at least 1', () => {
    assert.equal(concurrencyOf(parseMaxConcurrency('10%'), 5), 1);
    assert.equal(concurrencyOf(parseMaxConcurrency('50%'), 7), 3);
    assert.equal(allowedErrors(parseMaxErrors('10%'), 50), 5);
    assert.equal(allowedErrors(parseMaxErrors('10%'), 9), 0);
  });
});

describe('dispatch', () => {
  it('keeps at most MaxConcurrency invocations running and invokes every target once', () => {
    const r = runTask(task('3', '0'), targets(10), () => 'SUCCESS');
    assert.equal(r.maxRunning, 3);
    assert.deepEqual(r.invoked, targets(10));
    assert.equal(r.status, 'SUCCESS');
  });

  it('MaxErrors 3: dispatch stops when the fourth error is received', () => {
    const r = runTask(task('1', '3'), targets(10), () => 'FAILED');
    assert.equal(r.invoked.length, 4);
    assert.equal(r.status, 'FAILED');
  });

  it('MaxErrors 0: dispatch stops after the first error', () => {
    assert.equal(runTask(task('1', '0'), targets(10), (x) => (x === 'i-02' ? 'FAILED' : 'SUCCESS')).invoked.length, 3);
  });

  it('MaxErrors 10% of 50: dispatch stops when the sixth error is received', () => {
    assert.equal(runTask(task('1', '10%'), targets(50), () => 'TIMED_OUT').invoked.length, 6);
  });

  it('undeliverable invocations do not count as errors', () => {
    const r = runTask(task('2', '0'), targets(6), () => 'UNDELIVERABLE');
    assert.equal(r.invoked.length, 6);
    assert.equal(r.status, 'SUCCESS');
  });

  it('invocations already running when the budget is spent finish; the task then fails and the rest never run', () => {
    const inv: Record<string, InvocationStatus> = { 'i-00': 'FAILED', 'i-01': 'IN_PROGRESS', 'i-02': 'IN_PROGRESS' };
    const d = dispatchStep(task('3', '0'), { targets: targets(5), invocations: inv }, 0, 1);
    assert.deepEqual([d.dispatch, d.terminate, d.cancel, d.status], [[], ['i-03', 'i-04'], [], 'IN_PROGRESS']);
    const end = dispatchStep(task('3', '0'), { targets: targets(5), invocations: { ...inv, 'i-01': 'SUCCESS', 'i-02': 'SUCCESS', 'i-03': 'TERMINATED', 'i-04': 'TERMINATED' } }, 0, 1);
    assert.equal(end.status, 'FAILED');
  });

  it('after the cutoff: continue keeps dispatching; cancel starts nothing, cancels what runs, and times out', () => {
    const inv: Record<string, InvocationStatus> = { 'i-00': 'SUCCESS', 'i-01': 'IN_PROGRESS' };
    const cont = dispatchStep(task('2', '0', 'continue'), { targets: targets(4), invocations: inv }, 10, 5);
    assert.deepEqual(cont.dispatch, ['i-02']);
    const cancel = dispatchStep(task('2', '0', 'cancel'), { targets: targets(4), invocations: inv }, 10, 5);
    assert.deepEqual([cancel.dispatch, cancel.cancel, cancel.terminate, cancel.status], [[], ['i-01'], ['i-02', 'i-03'], 'TIMED_OUT']);
    const before = dispatchStep(task('2', '0', 'cancel'), { targets: targets(4), invocations: inv }, 5, 5);
    assert.deepEqual(before.dispatch, ['i-02'], 'at the cutoff instant itself a task may still start');
  });

  it('a task not yet started is PENDING only when nothing can be dispatched', () => {
    assert.equal(dispatchStep(task('1', '0'), { targets: targets(2), invocations: {} }, 0, 1).status, 'IN_PROGRESS');
  });
});

describe('priorities', () => {
  it('lower first, equal together, the next once every task of the previous one finished — whatever its outcome', () => {
    const tasks = [task('1', '0', 'continue', 'patch-a', 10), task('1', '0', 'continue', 'patch-b', 10), task('1', '0', 'continue', 'healthcheck', 20)];
    const st: Record<string, TaskStatus> = { 'patch-a': 'IN_PROGRESS', 'patch-b': 'PENDING', healthcheck: 'PENDING' };
    assert.equal(runnablePriority(tasks, (n) => st[n] ?? 'PENDING'), 10);
    st['patch-a'] = 'FAILED';
    assert.equal(runnablePriority(tasks, (n) => st[n] ?? 'PENDING'), 10, 'patch-b still pending');
    st['patch-b'] = 'SUCCESS';
    assert.equal(runnablePriority(tasks, (n) => st[n] ?? 'PENDING'), 20);
    st['healthcheck'] = 'SUCCESS';
    assert.equal(runnablePriority(tasks, (n) => st[n] ?? 'PENDING'), null);
  });
});
