/**
 * Maintenance windows (file-declared and from SSM) and their effects on the plan:
 * docs/maintenance.md#maintenance-windows. §3 in the test names: docs/background.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namingFor } from '../../src/config/config.js';
import { classifyWindowName, type SsmWindowInfo, ssmWindowsForGroup } from '../../src/config/ssm-windows.js';
import { formatCount } from '../../src/domain/counts.js';
import { commanded, HOUR, instance, instances, MIN, record, T0, whyText, World } from './fixtures.js';

const running = { power: 'running' as const };
// T0 is 2026-06-01T00:00Z. A daily window at 02:00 UTC for 2 hours.
const NIGHTLY = { name: 'FW-web-nightly', schedule: 'cron(0 2 * * ? *)', durationHours: 2 };

function world(group: Record<string, unknown>, list = [...instances(2, running, 'r'), ...instances(2, {}, 's')]): World {
  const w = new World(group, list);
  for (const i of list) if (i.power === 'running') w.records.set(i.id, record(i.id, 'running', T0 - 10 * HOUR));
  return w;
}

describe('§3 windows: activity and effects', () => {
  it('given a window at 02:00, then 15 minutes ahead (01:45) every instance is started for it', () => {
    const w = world({ fleets: { main: { desired: 2 } }, maintenance: { windows: [NIGHTLY] } });
    w.now = T0 + HOUR + 44 * MIN;
    assert.deepEqual(commanded(w.tick(), 'start'), []);
    const p = w.tick(MIN);
    assert.deepEqual(commanded(p, 'start').sort(), ['i-s1', 'i-s2']);
    assert.match(whyText(p), /target 4 \(desired 100% of 4 = 4/);
  });

  it('given a window that began an hour ago, then a controller starting now still sees it active (the seed missed it)', () => {
    const w = world({ fleets: { main: { desired: 1 } }, maintenance: { windows: [NIGHTLY] } });
    w.now = T0 + 3 * HOUR;
    const p = w.tick();
    assert.deepEqual(commanded(p, 'start').sort(), ['i-s1', 'i-s2']);
    assert.equal(p.transitions.filter((t) => t.to === 'draining').length, 0);
  });

  it('given an active window, then nothing is scaled in, and the reason names the window and its end', () => {
    const w = world({ fleets: { main: { desired: 0 } }, maintenance: { windows: [{ ...NIGHTLY, disableDefaultConfiguration: true }] } }, instances(2, running));
    for (const i of w.instances.values()) w.records.set(i.id, record(i.id, 'running', T0));
    w.now = T0 + 2 * HOUR + 30 * MIN;
    const p = w.tick();
    assert.equal(p.transitions.length, 0);
    assert.match(whyText(p), /stop blocked: window FW-web-nightly active until 2026-06-01T04:00:00Z/);
  });

  it('given the window ends, then its overrides disappear and scale-in resumes', () => {
    const w = world({ fleets: { main: { desired: 1 } }, maintenance: { windows: [NIGHTLY] } }, instances(3, running));
    for (const i of w.instances.values()) w.records.set(i.id, record(i.id, 'running', T0));
    w.now = T0 + 3 * HOUR + 59 * MIN;
    assert.equal(w.tick().transitions.length, 0);
    const after = w.tick(MIN);
    assert.equal(after.transitions.filter((t) => t.to === 'draining').length, 2);
  });

  it("given a window tag min=50p and desired below it, then the target is the window's 50%", () => {
    const w = world({ fleets: { main: { desired: 1 } }, maintenance: { windows: [{ ...NIGHTLY, overrides: { 'fleets.main.min': '50p' }, disableDefaultConfiguration: true }] } }, instances(6));
    w.now = T0 + 2 * HOUR;
    const p = w.tick();
    assert.equal(commanded(p, 'start').length, 3);
    assert.match(whyText(p), /target 3 \(desired 1, min 50% of 6 = 3\)/);
  });

  it('given a main-fleet window, then subfleets are not covered', () => {
    const list = [...instances(2, {}, 'm'), ...instances(2, { subfleet: 'batch' }, 'b')];
    const w = world({ fleets: { main: { desired: 0 }, subfleets: { batch: { state: 'stopped' } } }, maintenance: { windows: [{ ...NIGHTLY, fleet: 'main' }] } }, list);
    w.now = T0 + 2 * HOUR;
    assert.deepEqual(commanded(w.tick(), 'start').sort(), ['i-m1', 'i-m2']);
  });

  it('given a subfleet window, then that subfleet is forced to running during it', () => {
    const w = world({ fleets: { subfleets: { batch: { state: 'stopped' } } }, maintenance: { windows: [{ ...NIGHTLY, fleet: 'subfleet:batch' }] } }, instances(2, { subfleet: 'batch' }));
    w.now = T0 + 2 * HOUR;
    assert.equal(commanded(w.tick(), 'start').length, 2);
  });

  it('given forceSubfleetsRunning off, then a stopped subfleet stays stopped during its window', () => {
    const w = world({ fleets: { subfleets: { batch: { state: 'stopped' } } }, maintenance: { forceSubfleetsRunning: false, windows: [{ ...NIGHTLY, fleet: 'subfleets' }] } }, instances(2, { subfleet: 'batch' }));
    w.now = T0 + 2 * HOUR;
    assert.deepEqual(commanded(w.tick(), 'start'), []);
  });

  it('given a start-ahead override of 30 minutes, then the window is active 30 minutes early', () => {
    const w = world({ fleets: { main: { desired: 2 } }, maintenance: { startAhead: '30m', windows: [NIGHTLY] } });
    w.now = T0 + HOUR + 30 * MIN;
    assert.equal(commanded(w.tick(), 'start').length, 2);
  });
});

describe('§3 windows from SSM: naming convention, tags, and fail-closed', () => {
  const naming = namingFor('fleetwarden');
  const base: SsmWindowInfo = { id: 'mw-1', name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, cutoffHours: 0, enabled: true, tags: { 'fleetwarden:group-name': 'web' } };

  it('classifies names, most specific first, and with the clonesquad preset', () => {
    assert.deepEqual(classifyWindowName('FW-web-Mainfleet', naming), { group: 'web', scope: { kind: 'main' } });
    assert.deepEqual(classifyWindowName('FW-web-Subfleet.batch', naming), { group: 'web', scope: { kind: 'subfleet', name: 'batch' } });
    assert.deepEqual(classifyWindowName('FW-web-Subfleet.__all__', naming), { group: 'web', scope: { kind: 'subfleets' } });
    assert.deepEqual(classifyWindowName('FW-my-web', naming), { group: 'my-web', scope: { kind: 'group' } });
    assert.deepEqual(classifyWindowName('FW-GlobalDefaultMaintenanceWindow', naming), { group: null, scope: { kind: 'group' } });
    assert.equal(classifyWindowName('CS-web', naming), null);
    assert.deepEqual(classifyWindowName('CS-web-Mainfleet', namingFor('clonesquad')), { group: 'web', scope: { kind: 'main' } });
    const found = ssmWindowsForGroup([{ ...base, name: 'FW-GlobalDefaultMaintenanceWindow', tags: {} }, base, { ...base, name: 'FW-web-Mainfleet' }, { ...base, name: 'FW-web-Subfleet.__all__' }], 'web', naming, T0);
    assert.deepEqual(found.windows.map((x) => x.name), ['FW-web-Mainfleet', 'FW-web-Subfleet.__all__', 'FW-web', 'FW-GlobalDefaultMaintenanceWindow']);
  });

  it('counts a window only when tagged with the group (untagged: warned), ignores disabled ones and other groups', () => {
    const found = ssmWindowsForGroup([{ ...base, tags: {} }, { ...base, name: 'FW-web-Mainfleet', enabled: false }, { ...base, name: 'FW-api', tags: { 'fleetwarden:group-name': 'api' } }], 'web', naming, T0);
    assert.deepEqual(found.windows, []);
    assert.deepEqual(found.warnings, ['window FW-web is ignored: it is not tagged fleetwarden:group-name=web']);
  });

  it('reads config tags (p for %), disable-default-configuration, and warns on a bad tag without dropping the window', () => {
    const tags = { ...base.tags, 'fleetwarden:config:fleets.main.min': '50p', 'fleetwarden:config:disable-default-configuration': 'true', 'fleetwarden:config:fleets.main.desired': 'lots' };
    const found = ssmWindowsForGroup([{ ...base, tags }], 'web', naming, T0);
    const decl = found.windows[0];
    assert.ok(decl);
    assert.equal(decl.disableDefaultConfiguration, true);
    assert.deepEqual(Object.fromEntries(Object.entries(decl.overrides).map(([k, v]) => [k, formatCount(v as never)])), { 'fleets.main.min': '50%' });
    assert.match(found.warnings.join('\n'), /tag ignored: fleetwarden:config:fleets.main.desired: expected N, N% or Np, got "lots"/);
  });

  it('accepts the seed system\'s own tag keys with the clonesquad preset', () => {
    const cs = namingFor('clonesquad');
    const found = ssmWindowsForGroup([{ ...base, name: 'CS-web', tags: { 'clonesquad:group-name': 'web', 'clonesquad:config:ec2.schedule.min_instance_count': '2' } }], 'web', cs, T0);
    assert.deepEqual(Object.keys(found.windows[0]?.overrides ?? {}), ['fleets.main.min']);
  });

  it('given a group window and a more specific main-fleet window active together, then the more specific one wins where they disagree', () => {
    const infos: SsmWindowInfo[] = [
      base,
      { ...base, id: 'mw-2', name: 'FW-web-Mainfleet', tags: { ...base.tags, 'fleetwarden:config:fleets.main.desired': '1', 'fleetwarden:config:fleets.main.min': '1' } },
    ];
    const w = world({ fleets: { main: { desired: 0 } } }, instances(4));
    w.now = T0 + 2 * HOUR;
    w.extraWindows = [...ssmWindowsForGroup(infos, 'web', naming, w.now).windows];
    const p = w.tick();
    assert.equal(commanded(p, 'start').length, 1);
    assert.match(whyText(p), /target 1 \(desired 1, min 1\)/);
  });

  it('compares NextExecutionTime with its own evaluation and warns on disagreement, never trusting it', () => {
    const agree = ssmWindowsForGroup([{ ...base, nextExecutionTime: '2026-06-01T02:00Z' }], 'web', naming, T0);
    assert.deepEqual(agree.warnings, []);
    const jumped = ssmWindowsForGroup([{ ...base, nextExecutionTime: '2026-06-02T02:00Z' }], 'web', naming, T0);
    assert.match(jumped.warnings.join(''), /SSM says the next execution is 2026-06-02T02:00:00Z, the schedule says 2026-06-01T02:00:00Z; using the schedule/);
  });

  it('given an SSM window active right now although NextExecutionTime already points to tomorrow, then the fleet is held at 100%', () => {
    const w = world({ fleets: { main: { desired: 1 } } });
    w.now = T0 + 2 * HOUR + 30 * MIN;
    w.extraWindows = [...ssmWindowsForGroup([{ ...base, nextExecutionTime: '2026-06-02T02:00Z' }], 'web', naming, w.now).windows];
    assert.equal(commanded(w.tick(), 'start').length, 2);
  });

  it('given a window whose schedule cannot be parsed, then nothing in the group is drained or stopped, but starts still happen', () => {
    const w = world({ fleets: { main: { desired: 1 } } }, [...instances(3, running, 'r'), instance('i-s1')]);
    w.extraWindows = [...ssmWindowsForGroup([{ ...base, schedule: 'cron(0 2 * * * *)' }], 'web', naming, T0).windows];
    w.set('i-r1', { health: 'impaired' });
    const plans = [w.tick(), ...w.run(15 * MIN)];
    assert.equal(plans.flatMap((p) => p.transitions).filter((t) => t.to === 'draining').length, 0);
    assert.match(whyText(plans), /window FW-web cannot be evaluated: day-of-week: a value is set in both/);
    assert.match(whyText(plans), /stop blocked: window FW-web cannot be evaluated .* failing closed/);
    const more = new World({ fleets: { main: { desired: 2 } } }, [instance('i-1'), instance('i-2')]);
    more.extraWindows = w.extraWindows;
    assert.equal(commanded(more.tick(), 'start').length, 2);
  });
});
