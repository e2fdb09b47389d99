/** In-instance events: docs/lifecycle.md#event-scripts (§4 in the test names: docs/background.md). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commanded, events, HOUR, instance, MIN, record, T0, whyText, World } from './fixtures.js';

const running = { power: 'running' as const };
const NIGHTLY = { name: 'FW-web-nightly', schedule: 'cron(0 2 * * ? *)', durationHours: 2 };
const ENTER_EXIT = { 'enter-maintenance-window-period': { enabled: true }, 'exit-maintenance-window-period': { enabled: true } };

function runningWorld(group: Record<string, unknown>, n = 2): World {
  const list = Array.from({ length: n }, (_, i) => instance(`i-${i + 1}`, running));
  const w = new World({ fleets: { main: { desired: n } }, ...group }, list);
  for (const i of list) w.records.set(i.id, record(i.id, 'running', T0 - HOUR, { notifiedPeriod: 'out-of-window' }));
  return w;
}

describe('§4 events', () => {
  it('given events left at their defaults, then no event is ever sent', () => {
    const w = runningWorld({ maintenance: { windows: [NIGHTLY] } });
    w.now = T0 + HOUR + 50 * MIN;
    const plans = w.run(3 * HOUR);
    assert.deepEqual(commanded(plans, 'run-event'), []);
  });

  it('given a window begins, then every running instance is told once; when it ends, exit is sent once', () => {
    const w = runningWorld({ maintenance: { windows: [NIGHTLY] }, events: ENTER_EXIT });
    w.now = T0 + HOUR + 40 * MIN;
    const plans = w.run(3 * HOUR, 5 * MIN);
    assert.deepEqual(events(plans, 'enter-maintenance-window-period').sort(), ['i-1', 'i-2']);
    assert.deepEqual(events(plans, 'exit-maintenance-window-period').sort(), ['i-1', 'i-2']);
    const enterAt = plans.find((p) => p.commands.some((c) => c.kind === 'run-event' && c.event === 'enter-maintenance-window-period'))?.now;
    assert.equal(enterAt, T0 + HOUR + 45 * MIN, 'sent when the period (with start-ahead) begins');
  });

  it('given a newly running instance, then it is told the current period type as soon as it runs', () => {
    const w = new World({ fleets: { main: { desired: 1 } }, events: ENTER_EXIT }, [instance('i-1')]);
    const plans = w.run(3 * MIN);
    assert.deepEqual(events(plans, 'exit-maintenance-window-period'), ['i-1']);
    assert.equal(plans.find((p) => p.commands.some((c) => c.kind === 'run-event'))?.now, T0 + 2 * MIN, 'on the first tick it is up');
  });

  it('given an event script failing, then it is sent again on later ticks until it succeeds', () => {
    const w = runningWorld({ maintenance: { windows: [NIGHTLY] }, events: ENTER_EXIT }, 1);
    w.now = T0 + 2 * HOUR;
    let calls = 0;
    w.onEvent = () => ++calls >= 3;
    const plans = w.run(10 * MIN);
    assert.equal(events(plans, 'enter-maintenance-window-period').length, 3);
    assert.equal(w.records.get('i-1')?.notifiedPeriod, 'in-window');
  });

  it('given an event that never succeeds, then it stops being sent after its time limit', () => {
    const w = runningWorld({ maintenance: { windows: [NIGHTLY] }, events: { 'enter-maintenance-window-period': { enabled: true, timeLimit: '5m' } } }, 1);
    w.now = T0 + 2 * HOUR;
    w.onEvent = () => false;
    const plans = w.run(20 * MIN);
    assert.equal(events(plans, 'enter-maintenance-window-period').length, 5);
    assert.match(whyText(plans), /enter-maintenance-window-period still failing after 5m; no longer sent/);
  });

  it('given a script that never answers, then the send counts as failed after the script timeout and is retried', () => {
    const w = runningWorld({ maintenance: { windows: [NIGHTLY] }, events: ENTER_EXIT }, 1);
    w.now = T0 + 2 * HOUR;
    w.onEvent = () => undefined;
    const plans = w.run(3 * MIN, 20_000);
    const sentAt = plans.filter((p) => events(p, 'enter-maintenance-window-period').length > 0).map((p) => (p.now - w.now + 3 * MIN) / 1000);
    assert.deepEqual(sentAt, [20, 80, 140], 'resent once 30 s script timeout + 30 s delivery margin have passed');
  });

  it('given state-change events on, then each transition sends instance-state-change-<new> with <new> <old> (the seed never passed old)', () => {
    const w = runningWorld({ events: { 'instance-state-change': { enabled: true } }, fleets: { main: { desired: 1 } } });
    const p = w.tick();
    const sent = p.commands.find((c) => c.kind === 'run-event' && c.event === 'instance-state-change-draining');
    assert.ok(sent && sent.kind === 'run-event');
    assert.deepEqual(sent.args, ['draining', 'running']);
  });

  it('given the shutdown probe on, then a draining instance is probed', () => {
    const w = runningWorld({ events: { 'instance-ready-for-shutdown': { enabled: true } }, fleets: { main: { desired: 1 } } });
    assert.equal(events(w.tick(), 'instance-ready-for-shutdown').length, 1);
  });
});
