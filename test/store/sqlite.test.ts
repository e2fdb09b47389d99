import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { storeContract } from './contract.js';

storeContract('SQLite (in memory)', () => new SqliteStore(':memory:'));
storeContract('SQLite (file, WAL)', () => new SqliteStore(join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'state.db')));

describe('SQLite store specifics', () => {
  it('uses WAL, records its schema version, and keeps data across reopening', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'nested', 'state.db');
    const s = new SqliteStore(file);
    assert.equal(s.schemaVersion, 5);
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

  it('refuses a store written by a newer Fleetwarden', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-store-')), 'state.db');
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    assert.throws(() => new SqliteStore(file), /schema version 99 is newer than this Fleetwarden/);
  });
});
