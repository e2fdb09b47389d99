/** `fleetwarden workload start|stop NAME`: the ordered plan first, `--dry-run` changes nothing, acting is an override. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const DEMO = join(ROOT, 'examples/demo.yaml');

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, FLEETWARDEN_URL: '', FLEETWARDEN_TOKEN: '', FLEETWARDEN_ADMIN_TOKEN: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Plan {
  dryRun: boolean;
  workload: { state: { value: string }; killSwitch: { value: string } };
  plan: { blocked: string | null; steps: { sequence: number; tiers: { name: string; synchronous: boolean; instances: { instance: string; state: string; action: string; why: string }[] }[] }[] };
  override?: { value: string; reason: string };
}

describe('fleetwarden workload start|stop (on the store)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'fw-wl-'));
  const on = ['--config', DEMO, '--state-dir', stateDir];
  /** Everything an operator can read of the store. */
  const snapshot = (): string[] => [JSON.stringify({ ...(JSON.parse(cli('status', '--json', ...on).out) as object), at: 'now' }), cli('override', 'list', '--json', ...on).out, cli('control', 'list', '--json', ...on).out, cli('history', '--limit', '1000', '--json', ...on).out];

  before(() => {
    assert.equal(cli('run', ...on, '--once', '--listen', 'none').code, 0);
  });

  it('--dry-run prints the ordered plan — tier by tier, which instances, why — and the store is unchanged', () => {
    const before = snapshot();
    const r = cli('workload', 'start', 'erp', '--dry-run', '--json', ...on);
    assert.equal(r.code, 0, r.err);
    const plan = JSON.parse(r.out) as Plan;
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.plan.steps.map((s) => [s.sequence, s.tiers.map((t) => t.name)]), [[0, ['DB']], [10, ['App']], [20, ['Web']]], 'start-sequence order');
    assert.equal(plan.plan.steps[0]?.tiers[0]?.synchronous, true);
    assert.deepEqual(plan.plan.steps.flatMap((s) => s.tiers.flatMap((t) => t.instances.map((i) => [i.instance, i.action]))), [['i-erp-db-01', 'start'], ['i-erp-app-01', 'start'], ['i-erp-app-02', 'start'], ['i-erp-web-01', 'start'], ['i-erp-web-02', 'start']]);
    const text = cli('workload', 'start', 'erp', '--dry-run', ...on);
    assert.match(text.out, /^step 1 — start sequence 0\n {2}tier DB \(one instance at a time\)/m);
    assert.match(text.out, /^ {4}i-erp-app-02 +stopped +start +started$/m);
    assert.match(text.out, /^dry run: nothing was changed$/m);
    const stop = JSON.parse(cli('workload', 'stop', 'erp', '--dry-run', '--json', ...on).out) as Plan;
    assert.deepEqual(stop.plan.steps.map((s) => s.tiers.map((t) => t.name)), [['Web'], ['App'], ['DB']], 'stop-sequence order, independent of the start order');
    assert.ok(stop.plan.steps.every((s) => s.tiers.every((t) => t.instances.every((i) => i.action === 'none' && i.why === 'already stopped'))));
    assert.deepEqual(snapshot(), before, 'nothing in the store changed');
  });

  it('acting prints the plan and sets workload.state as an override with its TTL and reason; the next tick starts the first tier only', () => {
    const r = cli('workload', 'start', 'erp', '--ttl', '2h', '--reason', 'month-end close', ...on);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^step 1 — start sequence 0/m);
    assert.match(r.out, /^erp: workload\.state = running until \S+ \(month-end close\); the controller carries the plan out tier by tier$/m);
    const overrides = JSON.parse(cli('override', 'list', '--json', ...on).out) as { overrides: { group: string; key: string; value: string; reason: string }[] };
    assert.deepEqual(overrides.overrides.map((o) => [o.group, o.key, o.value, o.reason]), [['erp', 'workload.state', 'running', 'month-end close']]);
    assert.equal(cli('run', ...on, '--once', '--listen', 'none').code, 0);
    const status = JSON.parse(cli('status', '--group', 'erp', '--json', ...on).out) as { instances: { instance: string; state: string }[]; groups: { workload: { state: { value: string; setBy: string }; sequence: { direction: string } | null } }[] };
    assert.deepEqual(status.instances.filter((i) => i.state !== 'stopped').map((i) => [i.instance, i.state]), [['i-erp-db-01', 'starting']]);
    assert.deepEqual([status.groups[0]?.workload.state.value, status.groups[0]?.workload.state.setBy, status.groups[0]?.workload.sequence?.direction], ['running', 'override: month-end close', 'start']);
  });

  it('the kill switch (DisableAllSchedulingActions) is an override: status reports it, the plan is blocked, and workload start|stop is refused', () => {
    assert.equal(cli('override', 'set', 'erp', 'workload.killSwitch', 'true', '--ttl', '1h', '--reason', 'incident 42', ...on).code, 0);
    const status = cli('status', '--group', 'erp', ...on);
    assert.match(status.out, /^erp: workload running \(override: month-end close until \S+\); start sequence since \S+; KILL SWITCH ON \(override: incident 42 until \S+\): no action on the workload$/m);
    const plan = JSON.parse(cli('workload', 'stop', 'erp', '--dry-run', '--json', ...on).out) as Plan;
    assert.match(plan.plan.blocked ?? '', /workload\.killSwitch is on/);
    const before = cli('override', 'list', '--json', ...on).out;
    const r = cli('workload', 'stop', 'erp', '--ttl', '1h', '--reason', 'x', ...on);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: workload\.killSwitch: is on \(override: incident 42\): no action is taken on the workload; lift it first/m);
    assert.equal(cli('override', 'list', '--json', ...on).out, before, 'nothing set');
    assert.equal(cli('override', 'remove', 'erp', 'workload.killSwitch', ...on).code, 0);
  });

  it('mistakes exit 2 naming what is wrong, with no stack trace and nothing changed', () => {
    const before = cli('override', 'list', '--json', ...on).out;
    const cases: [string[], RegExp][] = [
      [['workload', 'start', 'web', '--dry-run'], /^error: group: group "web" is not a tiered workload \(it has no workload section\); tiered groups: erp$/m],
      [['workload', 'start', 'nope', '--dry-run'], /^error: group: no group "nope"/m],
      [['workload', 'stop', 'erp', '--reason', 'x'], /^error: --ttl: is required \(or --dry-run\)/m],
      [['workload', 'stop', 'erp', '--ttl', 'soon', '--reason', 'x'], /^error: ttl: /m],
      [['workload', 'stop', 'erp', '--dry-run', '--ttl', '1h'], /^error: --dry-run: changes nothing/m],
      [['workload', 'stop'], /^error: NAME: is required/m],
      [['workload', 'pause', 'erp'], /unknown command "workload pause"/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args, ...on);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, message, args.join(' '));
      assert.doesNotMatch(r.err, /\n\s+at /);
    }
    assert.equal(cli('override', 'list', '--json', ...on).out, before);
  });
});
