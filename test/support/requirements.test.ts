/**
 * The shared requirement check: a suite whose machine lacks something is skipped with one line saying what and how
 * to get it, and under FLEETWARDEN_REQUIRE_ALL=1 that becomes a failed run. "Missing" is faked with a command name
 * that exists nowhere; the end-to-end cases run a real `node --test` on a small suite that uses the helper.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assess, command, onPath } from './requirements.js';

const ABSENT = command('fleetwarden-no-such-command', 'fleetwarden-fake-package');
const PRESENT = command('sh', 'dash');

describe('requirements: detection', () => {
  it('finds a command through PATH, and not one that is nowhere or outside PATH', () => {
    assert.equal(onPath('sh'), true);
    assert.equal(onPath('fleetwarden-no-such-command'), false);
    assert.equal(onPath('sh', '/nonexistent-dir'), false, 'only the folders in PATH count');
  });

  it('runs when everything is there, whatever the variable says', () => {
    assert.deepEqual(assess([PRESENT], {}), { run: true });
    assert.deepEqual(assess([PRESENT], { FLEETWARDEN_REQUIRE_ALL: '1' }), { run: true });
  });

  it('skips with one line naming what is missing and how to install it; fails instead under FLEETWARDEN_REQUIRE_ALL=1', () => {
    assert.deepEqual(assess([PRESENT, ABSENT], {}), { run: false, fail: false, message: 'missing fleetwarden-no-such-command: apt-get install fleetwarden-fake-package' });
    assert.deepEqual(assess([PRESENT, ABSENT], { FLEETWARDEN_REQUIRE_ALL: '1' }), {
      run: false,
      fail: true,
      message: 'missing fleetwarden-no-such-command: apt-get install fleetwarden-fake-package (FLEETWARDEN_REQUIRE_ALL=1: required here)',
    });
    assert.deepEqual(assess([ABSENT], { FLEETWARDEN_REQUIRE_ALL: '0' }), assess([ABSENT], {}), 'only "1" turns skips into failures');
  });

  it('asks for one apt-get install of each package once, and the other steps after it', () => {
    const a = command('fleetwarden-no-such-a', 'pkg');
    const b = command('fleetwarden-no-such-b', 'pkg');
    const c = command('fleetwarden-no-such-c', 'other');
    const root = { name: 'root', check: () => ({ step: 'run as root' }) };
    const v = assess([root, a, b, c], {});
    assert.equal(!v.run && v.message, 'missing root, fleetwarden-no-such-a, fleetwarden-no-such-b, fleetwarden-no-such-c: apt-get install pkg other; run as root');
  });

  it('a command installed in an sbin folder outside PATH asks for PATH, not an install', () => {
    const sbin = mkdtempSync(join(tmpdir(), 'fw-sbin-'));
    writeFileSync(join(sbin, 'fleetwarden-sbin-tool'), '#!/bin/sh\n', { mode: 0o755 });
    const v = assess([command('fleetwarden-sbin-tool', 'some-package', [sbin])], {});
    assert.equal(!v.run && v.message, `missing fleetwarden-sbin-tool: put ${sbin} on PATH`);
  });
});

describe('requirements: a real test run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-req-'));
  const suite = join(dir, 'needs.test.mjs');
  const helper = new URL('./requirements.js', import.meta.url).href;
  writeFileSync(
    suite,
    `import { describe, it } from 'node:test';
import { command, requirements } from ${JSON.stringify(helper)};
describe('needs a tool', requirements(command('fleetwarden-no-such-command', 'fleetwarden-fake-package')), () => {
  it('must not run without the tool', () => { throw new Error('ran without its requirement'); });
});
`,
  );

  /** `node --test` on the suite, outside this run's own test context. */
  function run(requireAll: boolean): { status: number | null; out: string } {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    delete env.FLEETWARDEN_REQUIRE_ALL;
    if (requireAll) env.FLEETWARDEN_REQUIRE_ALL = '1';
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', suite], { env, encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  it('without FLEETWARDEN_REQUIRE_ALL the suite is skipped, its test never runs, and the run passes', () => {
    const r = run(false);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /# SKIP missing fleetwarden-no-such-command: apt-get install fleetwarden-fake-package/);
    assert.match(r.out, /^# fail 0$/m);
    assert.doesNotMatch(r.out, /ran without its requirement/);
  });

  it('with FLEETWARDEN_REQUIRE_ALL=1 the same missing tool fails the run, saying what is missing', () => {
    const r = run(true);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^# fail 1$/m);
    assert.match(r.out, /not ok \d+ - requirements: missing fleetwarden-no-such-command: apt-get install fleetwarden-fake-package/);
    assert.doesNotMatch(r.out, /ran without its requirement/);
  });
});
