/**
 * The test namespaces themselves (root): a test run killed mid-way leaves its namespaces, with their addresses and the
 * processes in them; the next run's namespace at the same addresses must reach its own instance, not the old one.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { AS_ROOT, IPROUTE2, requirements } from '../support/requirements.js';
import { InstanceNs, probe, startEchoServer } from './netns.js';

const INDEX = 60;

/** Gone, or killed and not yet reaped by its parent (a zombie). */
function dead(pid: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
  } catch {
    return true;
  }
}

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

describe('test namespaces left by a killed run', requirements(AS_ROOT, IPROUTE2), () => {
  let fresh: InstanceNs | undefined;
  after(() => fresh?.destroy());

  it('are removed, with their processes, before their addresses are used again', async () => {
    // A run that is gone: its pid (in the namespace's name) no longer alive.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const stale = `fw-stale-${gone}-${INDEX}`;
    execFileSync('ip', ['netns', 'add', stale]);
    execFileSync('ip', ['link', 'add', `fwh${gone}x${INDEX}`, 'type', 'veth', 'peer', 'name', `fwi${gone}x${INDEX}`, 'netns', stale]);
    execFileSync('ip', ['addr', 'add', `169.254.214.${4 * INDEX + 1}/30`, 'dev', `fwh${gone}x${INDEX}`]);
    execFileSync('ip', ['link', 'set', `fwh${gone}x${INDEX}`, 'up']);
    execFileSync('ip', ['-n', stale, 'addr', 'add', `169.254.214.${4 * INDEX + 2}/30`, 'dev', `fwi${gone}x${INDEX}`]);
    execFileSync('ip', ['-n', stale, 'link', 'set', `fwi${gone}x${INDEX}`, 'up']);
    // What outlived the run inside it (as the end-to-end test's apps do: setsid, detached).
    const left = spawn('ip', ['netns', 'exec', stale, 'setsid', 'sleep', '600'], { stdio: 'ignore', detached: true });
    left.unref();
    await new Promise((r) => setTimeout(r, 200));
    const leftPids = execFileSync('ip', ['netns', 'pids', stale], { encoding: 'utf8' }).split(/\s+/).filter((p) => p !== '');
    assert.equal(leftPids.length, 1, 'the stale namespace holds a process');

    fresh = new InstanceNs('fresh', INDEX);
    assert.ok(!namespaces().includes(stale), 'the stale namespace is gone');
    assert.ok(namespaces().includes(fresh.name));
    for (const pid of leftPids) assert.ok(dead(pid), `process ${pid} of the stale namespace was killed`);
    await startEchoServer(fresh, 8080);
    assert.equal(await probe(fresh.ip, 8080), 'ok', "the address reaches this run's instance");
  });
});
