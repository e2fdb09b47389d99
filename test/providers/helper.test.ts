/** The in-instance helper, run for real under dash and bash against temporary script directories. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bypassCheckScript, eventHelperScript, parseBypassOutput, parseHelperOutput, powershellEventHelperScript, powershellQuote, shellQuote, SSM_OUTPUT_CAP, WINDOWS_EVENT_DIR } from '../../src/providers/aws/helper.js';

const SHELLS = ['/usr/bin/dash', '/usr/bin/bash'] as const;

function runScript(shell: string, script: string): { out: string; code: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'fw-helper-run-'));
  const file = join(dir, 'helper.sh');
  writeFileSync(file, script);
  const r = spawnSync(shell, [file], { encoding: 'utf8', timeout: 20_000 });
  return { out: r.stdout, code: r.status };
}

function eventDir(scripts: Record<string, { body: string; executable?: boolean }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fw-events-'));
  for (const [name, s] of Object.entries(scripts)) {
    const f = join(dir, name);
    writeFileSync(f, `#!/bin/sh\n${s.body}\n`);
    chmodSync(f, s.executable === false ? 0o644 : 0o755);
  }
  return dir;
}

for (const shell of SHELLS) {
  describe(`event helper under ${shell}`, () => {
    const run = (dir: string, event: string, args: readonly string[] = [], timeoutSeconds = 10): ReturnType<typeof parseHelperOutput> & { out: string } => {
      const r = runScript(shell, eventHelperScript({ dir, event, args, timeoutSeconds }));
      assert.equal(r.code, 0, 'the helper itself always exits 0');
      return { ...parseHelperOutput(r.out), out: r.out };
    };

    it('exit-code table: 0 → success, non-zero → failure, absent → success, not executable → failure', () => {
      const dir = eventDir({ good: { body: 'echo fine' }, bad: { body: 'echo broken >&2; exit 3' }, plain: { body: 'exit 0', executable: false } });
      const good = run(dir, 'good');
      assert.deepEqual([good.ok, good.status, good.exitCode], [true, 'ok', 0]);
      assert.match(good.out, /^fine\n/);
      const bad = run(dir, 'bad');
      assert.deepEqual([bad.ok, bad.status, bad.exitCode], [false, 'failed', 3]);
      assert.match(bad.out, /broken/, 'stderr is kept too');
      assert.deepEqual([run(dir, 'missing').ok, run(dir, 'missing').status], [true, 'absent']);
      assert.deepEqual([run(dir, 'plain').ok, run(dir, 'plain').status], [false, 'not-executable']);
    });

    it('kills a script that runs past its time limit and reports a timeout', () => {
      const dir = eventDir({ slow: { body: 'sleep 30' } });
      const started = Date.now();
      const r = run(dir, 'slow', [], 1);
      assert.deepEqual([r.ok, r.status], [false, 'timeout']);
      assert.ok(Date.now() - started < 15_000, 'did not wait for the script');
    });

    it('passes hostile arguments literally: nothing in them is ever executed', () => {
      const marker = join(mkdtempSync(join(tmpdir(), 'fw-pwn-')), 'pwned');
      const hostile = [`it's`, `$(touch ${marker})`, `\`touch ${marker}\``, `a; touch ${marker}`, `line1\nline2`, `"double" $HOME`, '-n', ' spaced  out ', '*'];
      const dir = eventDir({ echo: { body: `for a in "$@"; do printf '[%s]' "$a"; done` } });
      const r = run(dir, 'echo', hostile);
      assert.equal(r.status, 'ok');
      assert.equal(r.out.split('\nFLEETWARDEN-STATUS')[0], hostile.map((a) => `[${a}]`).join(''));
      assert.equal(existsSync(marker), false, 'no argument was run as a command');
    });

    it('a hostile script directory cannot inject commands either', () => {
      const marker = join(mkdtempSync(join(tmpdir(), 'fw-pwn-')), 'pwned');
      const r = run(`/tmp/x'; touch ${marker}; echo '`, 'event');
      assert.equal(r.status, 'absent');
      assert.equal(existsSync(marker), false);
    });

    it('keeps the status line within the SSM output cap however much the script prints', () => {
      const dir = eventDir({ noisy: { body: 'i=0; while [ $i -lt 400 ]; do echo "line $i of noise from a chatty script"; i=$((i+1)); done; exit 5' } });
      const r = run(dir, 'noisy');
      assert.ok(r.out.length < SSM_OUTPUT_CAP, `${r.out.length} characters`);
      assert.deepEqual([r.status, r.exitCode], ['failed', 5]);
      assert.match(r.out, /line 399 of noise/);
    });

    it('bypass check: present, absent, and a hostile path is only a path', () => {
      const dir = mkdtempSync(join(tmpdir(), 'fw-bypass-'));
      const file = join(dir, "keep running; it's mine");
      writeFileSync(file, '');
      assert.equal(parseBypassOutput(runScript(shell, bypassCheckScript(file, 'linux')).out), 'present');
      assert.equal(parseBypassOutput(runScript(shell, bypassCheckScript(join(dir, 'nope'), 'linux')).out), 'absent');
      const marker = join(dir, 'pwned');
      assert.equal(parseBypassOutput(runScript(shell, bypassCheckScript(`/x $(touch ${marker})`, 'linux')).out), 'absent');
      assert.equal(existsSync(marker), false);
    });
  });
}

describe('helper parsing and quoting', () => {
  it('a missing or cut status line is a failure', () => {
    assert.deepEqual(parseHelperOutput('some output\n'), { ok: false, status: 'no-status', exitCode: null, truncated: false, detail: 'no status line in the output' });
    const cut = parseHelperOutput(`${'x'.repeat(2480)}\n--output truncated--`);
    assert.deepEqual([cut.ok, cut.truncated, cut.detail], [false, true, 'output truncated before the status line']);
    assert.equal(parseBypassOutput(''), 'unknown', 'no answer: unknown, so the instance is not stopped');
  });

  it('quotes for sh and PowerShell, and refuses NUL', () => {
    assert.equal(shellQuote(`it's`), `'it'\\''s'`);
    assert.equal(powershellQuote(`it's`), `'it''s'`);
    assert.match(bypassCheckScript(`C:\\keep it's`, 'windows'), /Test-Path -LiteralPath 'C:\\keep it''s'/);
    assert.throws(() => shellQuote('a\0b'), /NUL/);
    assert.throws(() => eventHelperScript({ dir: 'relative', event: 'x', args: [], timeoutSeconds: 30 }), /events\.dir: must be an absolute path/);
    assert.throws(() => eventHelperScript({ dir: '/etc', event: '../../bin/sh', args: [], timeoutSeconds: 30 }), /event: not an event name/);
  });

  it('the helper is POSIX sh: dash accepts its syntax', () => {
    const script = eventHelperScript({ dir: '/etc/fleetwarden/events', event: 'enter-maintenance-window-period', args: ['running', 'initializing'], timeoutSeconds: 30 });
    const r = spawnSync('/usr/bin/dash', ['-n', '-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});

/** PowerShell's own rule for a single-quoted literal: it ends at a quote (' ‘ ’ ‚ ‛) not followed by another one. */
const PS_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201A', '\u201B']);
function readPsLiterals(text: string): { values: string[]; between: string[] } {
  const values: string[] = [];
  const between: string[] = [];
  let gap = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (!PS_QUOTES.has(c)) {
      gap += c;
      continue;
    }
    between.push(gap);
    gap = '';
    let value = '';
    for (i++; i < text.length; i++) {
      const d = text[i] ?? '';
      if (!PS_QUOTES.has(d)) value += d;
      else if (PS_QUOTES.has(text[i + 1] ?? '')) value += text[++i] ?? '';
      else break;
    }
    values.push(value);
  }
  between.push(gap);
  return { values, between };
}

describe('PowerShell event helper (Windows)', () => {
  const hostile = [`it's`, `\u2019; Remove-Item C:\\ -Recurse; \u2018`, '$(Invoke-Evil)', '`n', 'line1\nline2', '"double" $env:PATH', '-Force', "''"];

  it('quotes every value so PowerShell reads it back unchanged, typographic quotes included', () => {
    for (const v of hostile) assert.deepEqual(readPsLiterals(powershellQuote(v)), { values: [v], between: ['', ''] }, v);
    assert.equal(powershellQuote('a\u2019b'), `'a\u2019\u2019b'`);
  });

  it('carries the event, its directory and hostile arguments only as single-quoted literals', () => {
    const script = powershellEventHelperScript({ dir: WINDOWS_EVENT_DIR, event: 'instance-ready-for-shutdown', args: hostile, timeoutSeconds: 30 });
    const line = (name: string): string => script.split('\n').find((l) => l.startsWith(`${name} = `))?.slice(name.length + 3) ?? '';
    assert.deepEqual(readPsLiterals(line('$fwDir')), { values: ['C:\\ProgramData\\Fleetwarden\\events'], between: ['', ''] });
    assert.deepEqual(readPsLiterals(line('$fwEvent')).values, ['instance-ready-for-shutdown']);
    assert.equal(line('$fwLimit'), '30');
    // A value may span lines (a single-quoted literal can): read up to the statement that follows.
    const args = readPsLiterals(script.slice(script.indexOf('$fwArgs = ') + '$fwArgs = '.length, script.indexOf('\nfunction Send-FwStatus')));
    assert.deepEqual(args.values, hostile, 'each argument reads back as itself');
    assert.deepEqual(args.between, ['[string[]]@(', ...hostile.slice(1).map(() => ', '), ')'], 'and nothing but separators lies between them');
    // The script is run as a job with its arguments as values: no command line is built from them.
    assert.match(script, /Start-Job -ArgumentList \$fwScript, \$fwArgs -ScriptBlock/);
    assert.match(script, /& \$Path @Rest/);
    assert.match(script, /Join-Path -Path \$fwDir -ChildPath \(\$fwEvent \+ '\.ps1'\)/);
    for (const status of ['absent', 'not-executable', 'timeout', 'ok', 'failed']) assert.match(script, new RegExp(`Send-FwStatus '${status}'`), status);
    assert.doesNotMatch(script, /\$(event|args|input)\b/i, 'no automatic variable is shadowed');
  });

  it('refuses a relative directory, a bad event name and a bad time limit', () => {
    assert.throws(() => powershellEventHelperScript({ dir: 'events', event: 'x', args: [], timeoutSeconds: 30 }), /events\.windowsDir: must be an absolute Windows path/);
    assert.throws(() => powershellEventHelperScript({ dir: 'C:\\x', event: '..\\..\\evil', args: [], timeoutSeconds: 30 }), /event: not an event name/);
    assert.throws(() => powershellEventHelperScript({ dir: 'C:\\x', event: 'x', args: [], timeoutSeconds: 0 }), /timeoutSeconds/);
    assert.throws(() => powershellEventHelperScript({ dir: 'C:\\x', event: 'x', args: ['a\0b'], timeoutSeconds: 30 }), /NUL/);
  });

  it('its output is read by the same parser: CRLF lines and a clamped exit code', () => {
    assert.deepEqual(pick(parseHelperOutput('stopping services\r\nFLEETWARDEN-STATUS ok 0\r\n')), [true, 'ok', 0]);
    assert.deepEqual(pick(parseHelperOutput('FLEETWARDEN-STATUS failed 255\r\n')), [false, 'failed', 255]);
    assert.deepEqual(pick(parseHelperOutput('FLEETWARDEN-STATUS timeout 124\r\n')), [false, 'timeout', 124]);
    assert.equal(parseBypassOutput('FLEETWARDEN-BYPASS present\r\n'), 'present');
  });
});

function pick(o: ReturnType<typeof parseHelperOutput>): [boolean, string, number | null] {
  return [o.ok, o.status, o.exitCode];
}

