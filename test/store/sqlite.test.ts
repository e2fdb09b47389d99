import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSqliteDatabase, sqliteDatabase, sqlitePackageFor } from '../../src/store/sqlite/driver.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { storeContract } from './contract.js';

/** Raw connections through the store's own driver: on Node ≥ 24.19 better-sqlite3 12 would abort this process. */
const Database = sqliteDatabase();

storeContract('SQLite (in memory)', () => new SqliteStore(':memory:'));
storeContract('SQLite (file, WAL)', () => new SqliteStore(join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'state.db')));

describe('SQLite store specifics', () => {
  it('uses WAL, records its schema version, and keeps data across reopening', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'nested', 'state.db');
    const s = new SqliteStore(file);
    assert.equal(s.schemaVersion, 7);
    await fixtureSave(s, { group: 'web', at: 1, records: [{ instanceId: 'i-1', group: 'web', state: 'running', since: 1, reason: 'r' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    await s.close();
    const raw = new Database(file);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
    const again = new SqliteStore(file);
    assert.equal((await again.loadGroup('web')).records.get('i-1')?.state, 'running');
    await again.close();
  });

  it('rejects an unknown lifecycle state read from storage instead of coercing it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'state.db');
    await new SqliteStore(file).close();
    const raw = new Database(file);
    raw.prepare('INSERT INTO records (instance_id, grp, state, since, body) VALUES (?, ?, ?, ?, ?)').run('i-x', 'web', 'warming', 1, JSON.stringify({ instanceId: 'i-x', group: 'web', state: 'warming', since: 1, reason: 'r' }));
    raw.close();
    const s = new SqliteStore(file);
    await assert.rejects(s.loadGroup('web'), /records\[i-x\]\.state: unknown lifecycle state "warming"/);
    await s.close();
  });

  it('executions stored with the old invocation spelling (in-progress, timed-out) read in the one spelling', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'state.db');
    await new SqliteStore(file).close();
    const inv = (target: string, status: string) => ({ target, status, phase: status === 'in-progress' ? 'running' : 'done', phaseSince: 1, startedAt: 1, runs: 1, outOfService: false, detail: '' });
    const exec = { id: 'web/w/1', group: 'web', window: 'w', start: 1, end: 2, lastTaskStart: 2, status: 'IN_PROGRESS', startedAt: 1, tasks: [{ name: 't', priority: 1, status: 'IN_PROGRESS', targets: ['i-1', 'i-2'], terminated: [], detail: '', invocations: [inv('i-1', 'in-progress'), inv('i-2', 'timed-out')] }] };
    const raw = new Database(file);
    raw.prepare('INSERT INTO executions (id, grp, start, open, body) VALUES (?, ?, ?, ?, ?)').run(exec.id, 'web', 1, 1, JSON.stringify(exec));
    raw.close();
    const s = new SqliteStore(file);
    assert.deepEqual((await s.execution('web/w/1'))?.tasks[0]?.invocations.map((i) => i.status), ['IN_PROGRESS', 'TIMED_OUT']);
    await s.close();
  });

  it('a stored row that does not decode is an error naming its table, key and field', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'state.db');
    const s = new SqliteStore(file);
    const handle = { id: 'h-1', kind: 'event', group: 'web', instanceIds: ['i-1'], sentAt: 1 } as const;
    await fixtureSave(s, { group: 'web', at: 1, records: [{ instanceId: 'i-1', group: 'web', state: 'running', since: 1, reason: 'r' }], transitions: [], history: [{ at: 1, group: 'web', instanceId: 'i-1', type: 'transition', summary: 's' }], newHandles: [handle], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    await s.queueAgentCommands([{ id: 'c-1', instanceId: 'i-1', group: 'web', kind: 'event', args: [], timeoutMs: 1000, sentAt: 1 }]);
    const raw = new Database(file);
    const corrupt = (sql: string): void => void raw.prepare(sql).run();
    corrupt(`UPDATE records SET body = json_set(body, '$.since', 'yesterday') WHERE instance_id = 'i-1'`);
    await assert.rejects(s.loadGroup('web'), { name: 'StoredDataError', message: /^stored data records\[i-1\]\.since: .*expected number, received string/ });
    await assert.rejects(s.allRecords(), /records\[i-1\]\.since/);
    corrupt(`UPDATE records SET body = json_set(body, '$.since', 1)`);
    corrupt(`UPDATE handles SET body = json_set(body, '$.kind', 'telepathy')`);
    await assert.rejects(s.loadGroup('web'), /^StoredDataError: stored data handles\[h-1\]\.kind: /);
    corrupt(`UPDATE history SET type = 'gossip'`);
    await assert.rejects(s.history({ limit: 10 }), /stored data history\[1\]\.type: /);
    corrupt(`UPDATE agent_commands SET body = json_set(body, '$.args', 'not a list')`);
    await assert.rejects(s.agentCommands({ instanceId: 'i-1' }), /stored data agent_commands\[i-1\/c-1\]\.body\.args: /);
    corrupt(`UPDATE agent_commands SET body = '{not json'`);
    await assert.rejects(s.agentCommands({ instanceId: 'i-1' }), /stored data agent_commands\[i-1\/c-1\]\.body: not JSON/);
    raw.close();
    await s.close();
  });

  it("without history (simulate's store) writes none, and still saves everything else under the lease", async () => {
    const s = new SqliteStore(':memory:', { history: false });
    const entry = { at: 1, group: 'web', instanceId: 'i-1', type: 'transition' as const, summary: 'initializing → running: ready' };
    await fixtureSave(s, { group: 'web', at: 1, records: [{ instanceId: 'i-1', group: 'web', state: 'running', since: 1, reason: 'r' }], transitions: [], history: [entry], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: ['w1'] });
    const saved = await s.loadGroup('web');
    assert.equal(saved.records.get('i-1')?.state, 'running');
    assert.deepEqual(saved.activeWindows, ['w1']);
    await s.appendHistory([entry]);
    assert.deepEqual(await s.history({ limit: 10 }), [], 'no history');
    // The lease is checked as ever: a writer whose lease passed on is refused.
    const held = await s.acquireLease('erp', 'a', 0, 1_000);
    assert.ok(held !== null);
    assert.ok((await s.acquireLease('erp', 'b', 2_000, 1_000)) !== null, 'taken over');
    await assert.rejects(s.appendHistory([{ ...entry, group: 'erp' }], held), (err: unknown) => err instanceof Error && err.name === 'LeaseLostError');
    await s.close();
    // The default keeps it.
    const kept = new SqliteStore(':memory:');
    await kept.appendHistory([entry]);
    assert.equal((await kept.history({ limit: 10 })).length, 1);
    await kept.close();
  });

  it('refuses a store written by a newer Fleetwarden', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'state.db');
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    assert.throws(() => new SqliteStore(file), /schema version 99 is newer than this Fleetwarden/);
  });
});

describe('SQLite driver (better-sqlite3 12 on Node 20, 13 from Node 22 on)', () => {
  it('names 12 for Node 20 and 13 for Node 22 and 24', () => {
    assert.deepEqual(['20.19.0', '20.20.2', '22.13.0', '22.23.3', '24.0.0', '24.21.0'].map(sqlitePackageFor), ['better-sqlite3', 'better-sqlite3', 'better-sqlite3-13', 'better-sqlite3-13', 'better-sqlite3-13', 'better-sqlite3-13']);
  });

  it('opens stores with the major version it names for this Node', () => {
    const require = createRequire(import.meta.url);
    const name = sqlitePackageFor(process.versions.node);
    const pkg = JSON.parse(readFileSync(join(require.resolve(name), '..', '..', 'package.json'), 'utf8')) as { name: string; version: string };
    assert.equal(pkg.name, 'better-sqlite3');
    assert.equal(pkg.version.split('.')[0], name === 'better-sqlite3-13' ? '13' : '12');
    assert.equal(sqliteDatabase(), require(name));
    const db = new Database(':memory:');
    assert.equal((db.prepare('SELECT 1 + 1 AS two').get() as { two: number }).two, 2);
    db.close();
  });

  it('says what to install when the package for this Node is missing', () => {
    const nowhere = createRequire(join(mkdtempSync(join(tmpdir(), 'fw-driver-')), 'x.js'));
    assert.throws(() => loadSqliteDatabase('24.21.0', nowhere), (err: Error) => {
      assert.match(err.message, /cannot load better-sqlite3-13 on Node 24\.21\.0: it is not installed; run `npm ci` again with this Node \(without --omit=optional/);
      return true;
    });
    assert.throws(() => loadSqliteDatabase('20.19.0', nowhere), /cannot load better-sqlite3 on Node 20\.19\.0: it is not installed; run `npm ci` again with this Node$/);
  });
});
