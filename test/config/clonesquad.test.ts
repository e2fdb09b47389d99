/** CloneSquad naming (seed 000) with the clonesquad preset: its setting names, its value formats, and what we do not implement. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namingFor } from '../../src/config/config.js';
import { CLONESQUAD_KEYS_FROM_SEED, CLONESQUAD_UNSUPPORTED, findKey, parseSetting } from '../../src/config/keys.js';
import { parseConfig } from '../../src/config/load.js';
import { resolve } from '../../src/config/resolve.js';
import { type SsmWindowInfo, ssmWindowsForGroup } from '../../src/config/ssm-windows.js';
import { setOverride } from '../../src/api/services.js';
import { parseCount } from '../../src/domain/counts.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { ValidationErrors } from '../../src/domain/errors.js';

const T = (iso: string): number => Date.parse(iso);
const cs = namingFor('clonesquad');
const window = (tags: Record<string, string>): SsmWindowInfo => ({ id: 'mw-1', name: 'CS-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, cutoffHours: 0, enabled: true, tags: { 'clonesquad:group-name': 'web', ...tags } });

describe('CloneSquad naming (seed 000)', () => {
  it('the seed’s ssm.feature.* tags on a window are read as our settings, in CloneSquad’s value formats; P as well as p for %', () => {
    const found = ssmWindowsForGroup([window({
      'clonesquad:config:ssm.feature.maintenance_window.start_ahead': 'minutes=30',
      'clonesquad:config:ssm.feature.events.ec2.maintenance_window_period': '1',
      'clonesquad:config:ssm.feature.events.ec2.instance_ready_for_shutdown': '0',
      'clonesquad:config:ssm.feature.events.ec2.instance_ready_for_shutdown.max_shutdown_delay': 'hours=2',
      'clonesquad:config:ssm.feature.events.ec2.instance_ready_for_operation.max_initializing_time': '1800',
      'clonesquad:config:ec2.schedule.desired_instance_count': '75P',
    })], 'web', cs, T('2026-06-01T00:00:00Z'));
    assert.deepEqual(found.problems, []);
    assert.deepEqual(found.windows[0]?.overrides, {
      'maintenance.startAhead': 30 * 60_000,
      'events.enter-maintenance-window-period.enabled': true,
      'events.exit-maintenance-window-period.enabled': true,
      'events.instance-ready-for-shutdown.enabled': false,
      'lifecycle.shutdownTimeout': 2 * 3_600_000,
      'lifecycle.initializingTimeout': 1_800_000,
      'fleets.main.desired': { kind: 'percent', value: 75 },
    });
    assert.deepEqual(parseCount('100P', 'x'), { kind: 'percent', value: 100 });
  });

  it('a window’s own start-ahead tag moves that window’s start-ahead (the group keeps its own for the others)', () => {
    const config = parseConfig({ preset: 'clonesquad', groups: [{ name: 'web', fleets: { main: { desired: 1 } } }] });
    const group = config.groups[0];
    assert.ok(group);
    const own = ssmWindowsForGroup([window({ 'clonesquad:config:ssm.feature.maintenance_window.start_ahead': 'minutes=30' }), { ...window({}), id: 'mw-2', name: 'CS-web-Mainfleet', schedule: 'cron(0 6 * * ? *)' }], 'web', cs, T('2026-06-01T00:00:00Z')).windows;
    const active = (iso: string): string[] => resolve({ group, now: T(iso), subfleets: [], extraWindows: own }).windows.active.map((a) => a.decl.name);
    assert.deepEqual(active('2026-06-01T01:35:00Z'), ['CS-web'], '25 minutes before its 02:00 start: within its own 30 minutes');
    assert.deepEqual(active('2026-06-01T01:25:00Z'), [], '35 minutes before: not yet');
    assert.deepEqual(active('2026-06-01T05:40:00Z'), [], 'the other window keeps the group’s 15 minutes');
    assert.deepEqual(active('2026-06-01T05:50:00Z'), ['CS-web-Mainfleet']);
  });

  it('a CloneSquad setting we do not implement is a problem of that window, naming it — the rest of the window still applies', () => {
    const found = ssmWindowsForGroup([window({ 'clonesquad:config:ssm.feature.maintenance_window': '1', 'clonesquad:config:ec2.schedule.min_instance_count': '2' })], 'web', cs, T('2026-06-01T00:00:00Z'));
    assert.deepEqual(found.problems, [{ source: 'window', subject: 'CS-web', field: 'tag clonesquad:config:ssm.feature.maintenance_window', value: '1', reason: 'tag ignored: "ssm.feature.maintenance_window" is a CloneSquad setting Fleetwarden does not implement (maintenance windows are always honoured; discovery from SSM is ssm.discovery in the file)' }]);
    assert.deepEqual(Object.keys(found.windows[0]?.overrides ?? {}), ['fleets.main.min']);
  });

  it('in the file too: aliases in window overrides and schedules; an unimplemented CloneSquad key is refused by path', () => {
    const ok = parseConfig({ preset: 'clonesquad', groups: [{ name: 'web', schedules: [{ name: 'nights', schedule: 'cron(0 22 * * ? *)', durationHours: 8, set: { 'ssm.feature.events.ec2.instance_ready_for_operation': '1' } }] }] });
    assert.deepEqual(ok.groups[0]?.schedules[0]?.values, { 'events.instance-ready-for-operation.enabled': true });
    assert.throws(
      () => parseConfig({ preset: 'clonesquad', groups: [{ name: 'web', maintenance: { windows: [{ name: 'CS-web', schedule: 'cron(0 2 * * ? *)', durationHours: 1, overrides: { 'ssm.enabled': '1', 'ssm.feature.maintenance_window.start_ahead': 'fortnights=2' } }] } }] }),
      (e: unknown) =>
        e instanceof ValidationErrors &&
        e.issues.map((i) => i.message).join('\n') === 'groups[0].maintenance.windows[0].overrides["ssm.enabled"]: "ssm.enabled" is a CloneSquad setting Fleetwarden does not implement (SSM is always used when configured; window discovery is ssm.discovery in the file)\ngroups[0].maintenance.windows[0].overrides["ssm.feature.maintenance_window.start_ahead"]: expected a duration such as 30s, 15m, 1h or 2h30m, got "fortnights=2"',
    );
    // Without the clonesquad preset the seed's names are just unknown settings.
    assert.throws(() => parseSetting('ssm.feature.events.ec2.instance_ready_for_operation', '1', 'x', 'fleetwarden'), /unknown setting/);
  });

  it('a run-time override may use a CloneSquad name too: stored under the setting(s) it stands for', async () => {
    const store = new SqliteStore(':memory:');
    const config = parseConfig({ preset: 'clonesquad', groups: [{ name: 'web' }] });
    const now = T('2026-06-01T00:00:00Z');
    const out = await setOverride(store, config, 'web', 'ssm.feature.events.ec2.maintenance_window_period', { value: '1', ttl: '1h', reason: 'drill' }, now);
    assert.deepEqual(out, { group: 'web', key: 'events.enter-maintenance-window-period.enabled', value: 'true', expiresAt: '2026-06-01T01:00:00Z', reason: 'drill', alsoSet: ['events.exit-maintenance-window-period.enabled'] });
    assert.deepEqual((await store.overrides(now)).map((o) => [o.key, o.value]).sort(), [['events.enter-maintenance-window-period.enabled', true], ['events.exit-maintenance-window-period.enabled', true]]);
    await assert.rejects(setOverride(store, config, 'web', 'ssm.enabled', { value: '1', ttl: '1h', reason: 'x' }, now), /value: "ssm\.enabled" is a CloneSquad setting Fleetwarden does not implement/);
    await store.close();
  });

  it('every CloneSquad key the seed names is either an alias of a setting of ours or listed as not implemented', () => {
    for (const key of CLONESQUAD_KEYS_FROM_SEED) {
      if (CLONESQUAD_UNSUPPORTED[key] !== undefined) continue;
      const out = parseSetting(key, key.includes('count') ? '1' : key.endsWith('start_ahead') || key.includes('max_') ? '60' : '1', 'x', 'clonesquad');
      assert.ok(out.length > 0 && out.every(([k]) => findKey(k) !== undefined), key);
    }
  });
});
