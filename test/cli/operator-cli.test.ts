import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const DEMO = join(ROOT, 'examples/demo.yaml');

function cli(env: Record<string, string>, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, FLEETWARDEN_URL: '', FLEETWARDEN_TOKEN: '', FLEETWARDEN_ADMIN_TOKEN: '', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('operator commands on the store (no controller running)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'fw-op-'));
  const on = ['--config', DEMO, '--state-dir', stateDir];

  before(() => {
    assert.equal(cli({}, 'run', ...on, '--once', '--listen', 'none').code, 0);
  });

  it('override set/list/remove, shown by config explain as the winning layer', () => {
    const set = cli({}, 'override', 'set', 'web', 'fleets.main.desired', '100%', '--ttl', '2h', '--reason', 'launch day', ...on);
    assert.equal(set.code, 0, set.err);
    const list = JSON.parse(cli({}, 'override', 'list', '--json', ...on).out) as { overrides: { group: string; key: string; value: string; reason: string }[] };
    assert.deepEqual(list.overrides.map((o) => [o.group, o.key, o.value, o.reason]), [['web', 'fleets.main.desired', '100%', 'launch day']]);
    const explain = JSON.parse(cli({}, 'config', 'explain', 'fleets.main.desired', '--group', 'web', '--json', ...on).out) as { settings: { value: string; layer: string; source: string }[] };
    assert.deepEqual([explain.settings[0]?.value, explain.settings[0]?.layer, explain.settings[0]?.source], ['100%', 'override', 'override: launch day']);
    assert.equal(cli({}, 'override', 'remove', 'web', 'fleets.main.desired', ...on).code, 0);
    assert.deepEqual(JSON.parse(cli({}, 'override', 'list', '--json', ...on).out), { overrides: [] });
  });

  it('a bad value, TTL, key or group exits 2 naming the field, and changes nothing', () => {
    const cases: [string[], RegExp][] = [
      [['override', 'set', 'web', 'fleets.main.desired', 'lots', '--ttl', '2h', '--reason', 'x'], /^error: value: /m],
      [['override', 'set', 'web', 'fleets.main.desired', '3', '--ttl', 'forever', '--reason', 'x'], /^error: ttl: /m],
      [['override', 'set', 'web', 'fleets.main.colour', '3', '--ttl', '1h', '--reason', 'x'], /unknown setting "fleets\.main\.colour"/],
      [['override', 'set', 'web', 'lifecycle.warmUp', `${'9'.repeat(30)}h`, '--ttl', '1h', '--reason', 'x'], /^error: value: must be at most 7d, got "9{30}h"$/m],
      [['override', 'set', 'nope', 'fleets.main.desired', '3', '--ttl', '1h', '--reason', 'x'], /^error: group: no group "nope"/m],
      [['override', 'set', 'web', 'fleets.main.desired', '3', '--reason', 'x'], /^error: --ttl: is required/m],
      [['control', 'set', 'web-1', 'unstoppable', '--ttl', '1h', '--reason', 'x'], /^error: INSTANCE: /m],
      [['control', 'set', 'i-web-001', 'immortal', '--ttl', '1h', '--reason', 'x'], /^error: KIND: expected one of unstoppable, unstartable, excluded/m],
    ];
    for (const [args, message] of cases) {
      const r = cli({}, ...args, ...on);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    }
    assert.deepEqual(JSON.parse(cli({}, 'override', 'list', '--json', ...on).out), { overrides: [] });
    assert.deepEqual(JSON.parse(cli({}, 'control', 'list', '--json', ...on).out), { controls: [] });
  });

  it('token issue prints the token once; the store keeps only its hash; revoke by instance', () => {
    const issued = JSON.parse(cli({}, 'token', 'issue', '--instance', 'i-web-001', '--json', ...on).out) as { token: string; id: string };
    assert.match(issued.token, /^fwi_[A-Za-z0-9_-]{43}$/);
    const db = readFileSync(join(stateDir, 'state.db'));
    assert.ok(!db.includes(Buffer.from(issued.token)), 'the token itself is not in the store');
    const listed = JSON.parse(cli({}, 'token', 'list', '--json', ...on).out) as { tokens: { id: string; role: string; instance: string | null }[] };
    assert.ok(listed.tokens.some((t) => t.id === issued.id && t.role === 'agent' && t.instance === 'i-web-001'));
    assert.match(cli({}, 'token', 'revoke', '--instance', 'i-web-001', ...on).out, /1 token\(s\) revoked/);
  });

  it('token issue --viewer makes a read-only token (listed with role viewer); one kind at a time', () => {
    const issued = JSON.parse(cli({}, 'token', 'issue', '--viewer', '--label', 'ops screen', '--json', ...on).out) as { token: string; id: string };
    assert.match(issued.token, /^fwv_[A-Za-z0-9_-]{43}$/);
    const listed = JSON.parse(cli({}, 'token', 'list', '--json', ...on).out) as { tokens: { id: string; role: string; instance: string | null }[] };
    assert.ok(listed.tokens.some((t) => t.id === issued.id && t.role === 'viewer' && t.instance === null));
    const both = cli({}, 'token', 'issue', '--viewer', '--admin', ...on);
    assert.equal(both.code, 2);
    assert.match(both.err, /--instance.*one of --instance ID .*--admin or --viewer/);
  });
});

describe('operator commands through a running controller’s API', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'fw-api-'));
  const on = ['--config', DEMO, '--state-dir', stateDir];
  let child: ChildProcess;
  const output: string[] = [];
  let url = '';

  before(async () => {
    child = spawn(process.execPath, [BIN, 'run', ...on, '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLEETWARDEN_ADMIN_TOKEN: '' } });
    child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    const lines = createInterface({ input: child.stdout! });
    url = await new Promise<string>((resolveUrl, reject) => {
      child.once('exit', (code) => reject(new Error(`controller exited ${code ?? ''}: ${output.join('')}`)));
      lines.on('line', (l) => {
        output.push(l);
        const m = /"type":"api","url":"([^"]+)"/.exec(l);
        if (m?.[1]) resolveUrl(m[1]);
      });
    });
    // The first tick has written the instances once status lists them.
    for (let i = 0; i < 100; i++) {
      const s = cli({}, 'status', '--url', url, '--state-dir', stateDir, '--json');
      if (s.code === 0 && (JSON.parse(s.out) as { instances: unknown[] }).instances.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(() => {
    child.kill('SIGTERM');
  });

  it('the generated admin token is in <state-dir>/admin-token, mode 0600, and printed nowhere', () => {
    const file = join(stateDir, 'admin-token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const token = readFileSync(file, 'utf8').trim();
    assert.ok(token.length > 40);
    assert.ok(!output.join('').includes(token));
  });

  it('status, history, config explain, controls and tokens work through --url (token from the admin-token file)', () => {
    const status = cli({}, 'status', '--url', url, '--state-dir', stateDir, '--json');
    assert.equal(status.code, 0, status.err);
    assert.ok((JSON.parse(status.out) as { instances: { instance: string }[] }).instances.some((i) => i.instance === 'i-web-001'));
    const history = JSON.parse(cli({}, 'history', '--url', url, '--state-dir', stateDir, '--json', '--limit', '3').out) as { entries: unknown[] };
    assert.equal(history.entries.length, 3);
    const transitions = cli({}, 'history', '--url', url, '--state-dir', stateDir, '--json', '--type', 'transition', '--from', '2000-01-01T00:00:00Z', '--limit', '5');
    assert.equal(transitions.code, 0, transitions.err);
    const types = (JSON.parse(transitions.out) as { entries: { type: string }[] }).entries.map((e) => e.type);
    assert.ok(types.length > 0 && types.every((t) => t === 'transition'), types.join());
    const badType = cli({}, 'history', '--url', url, '--state-dir', stateDir, '--type', 'nope');
    assert.equal(badType.code, 2);
    assert.match(badType.err, /--type/);
    const set = cli({}, 'control', 'set', 'i-web-001', 'unstoppable', '--ttl', '1h', '--reason', 'debugging', '--url', url, '--state-dir', stateDir);
    assert.equal(set.code, 0, set.err);
    const controls = JSON.parse(cli({}, 'control', 'list', '--json', '--url', url, '--state-dir', stateDir).out) as { controls: { instance: string; kind: string }[] };
    assert.deepEqual(controls.controls.map((c) => [c.instance, c.kind]), [['i-web-001', 'unstoppable']]);
    const explain = cli({}, 'config', 'explain', '--group', 'web', '--json', '--url', url, '--state-dir', stateDir);
    assert.equal(explain.code, 0, explain.err);
    assert.equal((JSON.parse(explain.out) as { group: string }).group, 'web');
    const bad = cli({}, 'override', 'set', 'web', 'fleets.main.min', 'three', '--ttl', '1h', '--reason', 'x', '--url', url, '--state-dir', stateDir);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: value: /m, 'the API’s 400 names the field as the store path does');
  });

  it('an agent token is refused on admin commands (exit 2, 403); a wrong token gets 401; an unreachable URL is an error', () => {
    const issued = JSON.parse(cli({}, 'token', 'issue', '--instance', 'i-web-002', '--json', '--url', url, '--state-dir', stateDir).out) as { token: string };
    const agent = cli({ FLEETWARDEN_TOKEN: issued.token }, 'status', '--url', url);
    assert.equal(agent.code, 2);
    assert.match(agent.err, /HTTP 403/);
    const wrong = cli({ FLEETWARDEN_TOKEN: 'nope' }, 'status', '--url', url);
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /HTTP 401/);
    const down = cli({ FLEETWARDEN_TOKEN: 'x' }, 'status', '--url', 'http://127.0.0.1:39999');
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach the controller at http:\/\/127\.0\.0\.1:39999/);
  });
});
