/**
 * Who was out of service when (src/web/outage-data.ts): an execution's invocations become the shared timeline's
 * rows — one per instance, a bar per invocation from its start to its end — so the rolling batches of a drain task
 * can be read off the picture, a failed one stays "left out", a running one reaches now, and a task that does not
 * drain shows as run in service.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IN_SERVICE, LEFT_OUT, OUT_OF_SERVICE, outageInput, TASK_IN_SERVICE, type ExecutionRow } from '../../src/web/outage-data.js';
import { renderTimeline, segments } from '../../src/web/timeline.js';

const M = 60_000;
const T0 = Date.UTC(2026, 5, 7, 2);
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

const inv = (instance: string, from: number, until: number | null, status: string, extra: { outOfService?: boolean; drained?: boolean } = {}) => ({ instance, status, startedAt: iso(from), endedAt: until === null ? null : iso(until), outOfService: extra.outOfService ?? false, drained: extra.drained ?? true });

/** A window 02:00–04:00; `patch` drains two at a time (i-1, i-2 then i-3, which failed and stays out), then `report` runs in service on i-1. */
const EXEC: ExecutionRow = {
  group: 'web',
  window: 'patch',
  start: iso(T0),
  end: iso(T0 + 120 * M),
  lastTaskStart: iso(T0 + 90 * M),
  startedAt: iso(T0),
  endedAt: iso(T0 + 60 * M),
  tasks: [
    { name: 'patch', invocations: [inv('i-1', T0, T0 + 20 * M, 'SUCCESS'), inv('i-2', T0 + M, T0 + 22 * M, 'SUCCESS'), inv('i-3', T0 + 21 * M, T0 + 40 * M, 'FAILED', { outOfService: true })] },
    { name: 'report', invocations: [inv('i-1', T0 + 45 * M, T0 + 50 * M, 'SUCCESS', { drained: false })] },
  ],
};

describe('outageInput', () => {
  it('one row per instance with a bar for each invocation’s out-of-service period, the batches in order', () => {
    const input = outageInput(EXEC, T0 + 70 * M);
    assert.deepEqual(input.instances.map((i) => i.id), ['i-1', 'i-2', 'i-3']);
    const bars = (id: string): [string, number, number][] => segments(input.instances.find((i) => i.id === id) ?? { id, changes: [] }, input.from, input.to).map((s) => [s.state, (s.start - T0) / M, (s.end - T0) / M]);
    assert.equal(input.from, T0);
    assert.equal(input.to, T0 + 120 * M, 'the window’s end bounds the range');
    assert.deepEqual(bars('i-1'), [[OUT_OF_SERVICE, 0, 20], [IN_SERVICE, 20, 45], [TASK_IN_SERVICE, 45, 50], [IN_SERVICE, 50, 120]]);
    assert.deepEqual(bars('i-2'), [[IN_SERVICE, 0, 1], [OUT_OF_SERVICE, 1, 22], [IN_SERVICE, 22, 120]]);
    assert.deepEqual(bars('i-3'), [[IN_SERVICE, 0, 21], [OUT_OF_SERVICE, 21, 40], [LEFT_OUT, 40, 120]], 'failed and left out: it stays out');
    assert.deepEqual(input.periods, [{ window: 'patch', activeFrom: T0, start: T0, end: T0 + 120 * M, lastTaskStart: T0 + 90 * M }]);
    assert.match(input.instances[2]?.changes[1]?.reason ?? '', /patch: FAILED, left out of service/);
  });

  it('an invocation still running is out until now, and now past the window widens the range', () => {
    const running: ExecutionRow = { ...EXEC, endedAt: null, tasks: [{ name: 'patch', invocations: [inv('i-1', T0 + 100 * M, null, 'IN_PROGRESS', { outOfService: true })] }] };
    const input = outageInput(running, T0 + 130 * M);
    assert.equal(input.to, T0 + 130 * M);
    assert.deepEqual(segments(input.instances[0] ?? { id: '', changes: [] }, input.from, input.to).map((s) => [s.state, (s.start - T0) / M, (s.end - T0) / M]), [[IN_SERVICE, 0, 100], [OUT_OF_SERVICE, 100, 130]]);
  });

  it('is drawn by the shared renderer with its own legend: the out-of-service bars at their times', () => {
    const svg = renderTimeline({ ...outageInput(EXEC, T0 + 70 * M), width: 960 });
    const out = [...svg.matchAll(/<g class="fw-state" data-instance="([^"]+)" data-state="out of service" data-start="(\d+)" data-end="(\d+)"/g)].map((m) => [m[1], (Number(m[2]) - T0) / M, (Number(m[3]) - T0) / M]);
    assert.deepEqual(out, [['i-1', 0, 20], ['i-2', 1, 22], ['i-3', 21, 40]]);
    assert.match(svg, /<g class="fw-legend">.*out of service.*left out/);
    assert.doesNotMatch(svg, /<text[^>]*>unuseable<\/text>/, 'the lifecycle legend is not shown for this picture');
    assert.match(svg, /<title>Timeline of web \/ patch/);
  });
});
