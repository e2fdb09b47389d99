import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { controllerLog, makeLogger } from '../../src/app/log.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const DEMO = join(ROOT, 'examples/demo.yaml');
const TOKEN = 'fw-secret-token-7f3a9c0e5b2d4e6f';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the controller log (pino)', () => {
  it('a token passed in a logged object never appears, in either format', () => {
    for (const format of ['json', 'text'] as const) {
      const lines: string[] = [];
      const log = makeLogger({ level: 'debug', format }, (l) => lines.push(l));
      log.info({ token: TOKEN, authorization: `Bearer ${TOKEN}`, headers: { authorization: `Bearer ${TOKEN}` }, req: { headers: { authorization: `Bearer ${TOKEN}` }, token: TOKEN }, creds: { secretAccessKey: TOKEN } }, 'request');
      log.error({ caller: { token: TOKEN } }, 'refused');
      assert.equal(lines.length, 2, format);
      assert.ok(!lines.join('\n').includes(TOKEN), `${format}: ${lines.join('\n')}`);
    }
    const json: string[] = [];
    makeLogger({ level: 'info', format: 'json' }, (l) => json.push(l)).info({ token: TOKEN, instance: 'i-a' }, 'x');
    const entry = JSON.parse(json[0] ?? '{}') as Record<string, unknown>;
    assert.equal(entry['token'], '[redacted]', 'the field is kept, its value censored');
    assert.equal(entry['instance'], 'i-a', 'other fields untouched');
  });

  it('levels filter; group children carry their group; text escapes control characters', () => {
    const out: string[] = [];
    const err: string[] = [];
    const log = controllerLog({ level: 'warn', format: 'json' }, (l) => out.push(l), (l) => err.push(l));
    log.group('web').info({ type: 'transition' }, 'hidden at warn');
    log.group('web').warn({ type: 'retry' }, 'shown');
    log.diag.error({ type: 'tick-error' }, 'tick failed');
    assert.deepEqual(out.map((l) => JSON.parse(l) as Record<string, unknown>).map((e) => [e['level'], e['group'], e['type'], e['msg']]), [['warn', 'web', 'retry', 'shown']]);
    assert.deepEqual(err.map((l) => (JSON.parse(l) as Record<string, unknown>)['type']), ['tick-error']);
    const text: string[] = [];
    controllerLog({ level: 'info', format: 'text' }, (l) => text.push(l), () => undefined).group('web').info({}, 'tag "a\nforged line" \u001b[31m');
    assert.equal(text.length, 1);
    assert.ok(!(text[0] ?? '').includes('\n') && !(text[0] ?? '').includes('\u001b'), text[0]);
  });

  it('run --log-format json: every stdout line is a JSON log entry; events carry level, group and their fields', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-log-'));
    const r = cli('run', '--config', DEMO, '--state-dir', stateDir, '--once', '--listen', 'none', '--log-format', 'json');
    assert.equal(r.code, 0, r.err);
    const entries = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const start = entries.find((e) => e['type'] === 'transition' && e['group'] === 'web' && e['to'] === 'starting');
    assert.ok(start, r.out);
    assert.equal(start['level'], 'info');
    assert.match(String(start['instance']), /^i-web-/);
    assert.equal(typeof start['time'], 'string');
  });

  it('run --log-level warn hides the info events; bad values are usage errors naming the flag', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-log-'));
    const quiet = cli('run', '--config', DEMO, '--state-dir', stateDir, '--once', '--listen', 'none', '--log-level', 'warn');
    assert.equal(quiet.code, 0, quiet.err);
    assert.doesNotMatch(quiet.out, /→ starting|fleetwarden: 2 group/);
    const bad = cli('run', '--config', DEMO, '--state-dir', stateDir, '--once', '--log-format', 'xml');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: --log-format: expected one of text, json, got "xml"$/m);
    assert.equal(cli('run', '--config', DEMO, '--state-dir', stateDir, '--once', '--log-level', 'trace').code, 2);
    const both = cli('run', '--config', DEMO, '--state-dir', stateDir, '--once', '--json', '--log-format', 'text');
    assert.equal(both.code, 2);
    assert.match(both.err, /--json: contradicts --log-format text/);
  });

  it('at debug every API request is logged with method, path and status, never the bearer token or the query', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-log-'));
    const child = spawn(process.execPath, [BIN, 'run', '--config', DEMO, '--state-dir', stateDir, '--listen', '127.0.0.1:0', '--json', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLEETWARDEN_ADMIN_TOKEN: TOKEN } });
    let all = '';
    child.stderr.on('data', (d: Buffer) => (all += d.toString()));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        child.once('exit', (code) => reject(new Error(`controller exited ${code ?? ''}: ${all}`)));
        createInterface({ input: child.stdout }).on('line', (l) => {
          all += `${l}\n`;
          const m = /"type":"api","url":"([^"]+)"/.exec(l);
          if (m?.[1]) resolveUrl(m[1]);
        });
      });
      assert.equal((await fetch(`${url}/v1/status?token=${TOKEN}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
      assert.equal((await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}-wrong` } })).status, 401);
      for (let i = 0; i < 50 && !all.includes('"status":401'); i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const requests = all.split('\n').filter((l) => l.includes('"type":"api-request"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(requests.map((e) => [e['level'], e['method'], e['path'], e['status']]), [['debug', 'GET', '/v1/status', 200], ['warn', 'GET', '/v1/status', 401]]);
    assert.ok(!all.includes(TOKEN), 'the token appears nowhere in the output');
  });
});
