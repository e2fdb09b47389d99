/** `fleetwarden plan` on the simulator with a SQLite store: what it prints, its exit codes, and that it changes nothing. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { planJson, type PlanJson } from '../../src/api/wire.js';
import { Simulator } from '../../src/providers/simulator/simulator.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { sqliteDatabase } from '../../src/store/sqlite/driver.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** web: 3 stopped instances, none wanted; api: 3 running, all wanted (no warm-up or drain wait, to move in few ticks). */
const AT_REST = `provider: simulator
simulator:
  start: "2026-03-02T10:00:00Z"
  groups:
    web: { instances: 3, running: false }
    api: { instances: 3, running: true, targetGroup: false }
groups:
  - name: web
    fleets: { main: { desired: 0 } }
  - name: api
    fleets: { main: { desired: 3 } }
    lifecycle: { warmUp: 0s, drainMinimum: 0s }
`;
/** The configuration change to preview: two web instances wanted, one api instance. */
const CHANGED = AT_REST.replace('desired: 0', 'desired: 2').replace('desired: 3', 'desired: 1');

function hash(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The store's and the world's bytes, and the WAL's, where a write would land first. A read-only SQLite connection may
 * create an empty WAL (and its -shm index) to read a WAL-mode database: no WAL and an empty one hold the same, nothing.
 */
function fingerprint(stateDir: string): Record<string, string> {
  const wal = join(stateDir, 'state.db-wal');
  return { db: hash(join(stateDir, 'state.db')), wal: existsSync(wal) ? hash(wal) : hash('/dev/null'), world: hash(join(stateDir, 'world.json')) };
}

function plan(config: string, stateDir: string, ...more: string[]): { code: number | null; view: PlanJson; err: string } {
  const r = cli('plan', '--config', config, '--state-dir', stateDir, '--json', ...more);
  // The documented shape, strictly: every field the schema names, no other.
  const view = planJson.parse(JSON.parse(r.out));
  assert.deepEqual(Object.keys(JSON.parse(r.out) as object), ['at', 'store', 'changes', 'groups']);
  return { code: r.code, view, err: r.err };
}

/** Commands and transitions as `group kind instances` / `group instance from→to`, sorted: plan's and a tick's alike. */
function planned(view: PlanJson): { commands: string[]; transitions: string[] } {
  return {
    commands: view.groups.flatMap((g) => g.commands.map((c) => `${g.group} ${c.kind === 'run-event' ? `run-event ${c.event ?? ''}` : c.kind} ${c.instances.join(',')}`)).sort(),
    transitions: view.groups.flatMap((g) => g.transitions.map((t) => `${g.group} ${t.instance} ${t.from}→${t.to}`)).sort(),
  };
}

function ticked(out: string): { commands: string[]; transitions: string[] } {
  const events = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; group?: string; command?: string; instances?: string[]; instance?: string; from?: string; to?: string });
  return {
    commands: events.filter((e) => e.type === 'command').map((e) => `${e.group ?? ''} ${e.command ?? ''} ${(e.instances ?? []).join(',')}`).sort(),
    transitions: events.filter((e) => e.type === 'transition').map((e) => `${e.group ?? ''} ${e.instance ?? ''} ${e.from ?? ''}→${e.to ?? ''}`).sort(),
  };
}

describe('fleetwarden plan (simulator, SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-plan-'));
  const stateDir = join(dir, 'state');
  const atRest = join(dir, 'at-rest.yaml');
  const changed = join(dir, 'changed.yaml');
  writeFileSync(atRest, AT_REST);
  writeFileSync(changed, CHANGED);

  it('a fleet at rest: exit 0 and "nothing to do"', () => {
    // Two ticks: the first records what it finds, the second brings api's instances to running.
    for (let n = 0; n < 2; n++) assert.equal(cli('run', '--once', '--listen', 'none', '--config', atRest, '--state-dir', stateDir).code, 0);
    const human = cli('plan', '--config', atRest, '--state-dir', stateDir);
    assert.equal(human.code, 0, human.out + human.err);
    assert.match(human.out, /group web \(no controller holds it\)\n {2}nothing to do/);
    assert.match(human.out, /\nnothing to do\n$/);
    const json = plan(atRest, stateDir);
    assert.equal(json.code, 0);
    assert.equal(json.view.changes, false);
    assert.equal(json.view.store, join(stateDir, 'state.db'));
    assert.deepEqual(planned(json.view), { commands: [], transitions: [] });
  });

  it('a configuration change: exit 3 with the commands and transitions a tick then carries out, and no byte of the store or the world changed', async () => {
    // Another controller holds api's lease: plan says so, and still shows what a tick would do there.
    const world = Simulator.readWorld(join(stateDir, 'world.json'));
    const store = new SqliteStore(join(stateDir, 'state.db'));
    assert.notEqual(await store.acquireLease('api', 'other-controller', world.now, 3_600_000), null);
    await store.close();

    for (const step of ['start and drain', 'stop']) {
      const before = fingerprint(stateDir);
      const p = plan(changed, stateDir);
      assert.equal(p.code, 3, `${step}: ${p.err}`);
      assert.equal(p.view.changes, true);
      assert.deepEqual(fingerprint(stateDir), before, `${step}: plan changed the store or the world file`);
      const api = p.view.groups.find((g) => g.group === 'api');
      if (step === 'start and drain') {
        assert.equal(api?.lease?.owner, 'other-controller');
        assert.equal(p.view.groups.find((g) => g.group === 'web')?.lease, null);
        assert.deepEqual(p.view.groups.find((g) => g.group === 'web')?.commands.map((c) => [c.kind, c.instances]), [['start', ['i-web-001', 'i-web-002']]]);
        assert.deepEqual(api.transitions.map((t) => [t.instance, t.from, t.to]), [['i-api-001', 'running', 'draining'], ['i-api-002', 'running', 'draining']]);
        const s = new SqliteStore(join(stateDir, 'state.db'));
        await s.releaseLease('api', 'other-controller');
        await s.close();
      } else {
        assert.deepEqual(api?.commands.map((c) => [c.kind, c.instances]), [['stop', ['i-api-001', 'i-api-002']]]);
      }
      // The real tick then does exactly what plan said.
      const tick = cli('run', '--once', '--listen', 'none', '--config', changed, '--state-dir', stateDir, '--json');
      assert.equal(tick.code, 0, tick.err);
      assert.deepEqual(ticked(tick.out), planned(p.view), step);
    }
  });

  it('--group plans the named groups only; an unknown one is exit 2 naming it, with nothing on stdout', () => {
    const one = plan(changed, stateDir, '--group', 'web');
    assert.deepEqual(one.view.groups.map((g) => g.group), ['web']);
    const bad = cli('plan', '--config', changed, '--state-dir', stateDir, '--group', 'web', '--group', 'nope');
    assert.equal(bad.code, 2);
    assert.equal(bad.out, '');
    assert.match(bad.err, /^error: --group: no group "nope"; groups: web, api\n$/);
  });

  it('a store of an older schema: exit 2 naming --state-dir, and it is left as it was', () => {
    const oldDir = join(dir, 'old');
    const old = new SqliteStore(join(oldDir, 'state.db'));
    void old.close();
    const Sqlite = sqliteDatabase();
    const db = new Sqlite(join(oldDir, 'state.db'));
    db.pragma('user_version = 2');
    db.close();
    const before = hash(join(oldDir, 'state.db'));
    const r = cli('plan', '--config', changed, '--state-dir', oldDir);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(r.err, /^error: --state-dir: the store .* has schema version 2, this Fleetwarden \d+: a read-only command does not upgrade it; run 'fleetwarden run' once first\n$/);
    assert.equal(hash(join(oldDir, 'state.db')), before);
  });

  it('with no store yet, plans a first tick and creates nothing', () => {
    const fresh = join(dir, 'fresh');
    const p = plan(changed, fresh);
    assert.equal(p.code, 3);
    assert.equal(p.view.store, null);
    assert.deepEqual(p.view.groups.find((g) => g.group === 'web')?.commands.map((c) => [c.kind, c.instances]), [['start', ['i-web-001', 'i-web-002']]]);
    assert.equal(existsSync(fresh), false);
  });
});
