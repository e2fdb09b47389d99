/** What keeps `fleetwarden plan` from writing: the read-only store guard, and SQLite opened read-only. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readOnlyStore, ReadOnlyStoreError } from '../../src/reconciler/preview.js';
import { SqliteStore, StoreError } from '../../src/store/sqlite/store.js';
import { sqliteDatabase } from '../../src/store/sqlite/driver.js';

describe('readOnlyStore', () => {
  it('passes reads through and refuses every write before it reaches the store', async () => {
    const inner = new SqliteStore(':memory:');
    await inner.setControl({ instanceId: 'i-1', kind: 'unstoppable', until: 2000, reason: 'test' }, 0);
    const store = readOnlyStore(inner);
    assert.deepEqual((await store.controls(1000)).map((c) => c.instanceId), ['i-1']);
    assert.equal((await store.loadGroup('web')).records.size, 0);
    await assert.rejects(store.acquireLease('web', 'plan', 1000, 60_000), ReadOnlyStoreError);
    await assert.rejects(store.removeControl('i-1', 'unstoppable'), ReadOnlyStoreError);
    await assert.rejects(store.appendHistory([{ at: 1000, group: 'web', instanceId: null, type: 'window', summary: 'x' }]), ReadOnlyStoreError);
    // Nothing reached the store.
    assert.equal(await inner.leaseHolder('web', 1000), null);
    assert.equal((await inner.controls(1000)).length, 1);
    assert.equal((await inner.history({ limit: 10 })).length, 0);
    await inner.close();
  });
});

describe('SqliteStore readOnly', () => {
  it('reads an existing store, and SQLite itself refuses a write', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-ro-')), 'state.db');
    const rw = new SqliteStore(file);
    await rw.setControl({ instanceId: 'i-1', kind: 'excluded', until: 2000, reason: 'test' }, 0);
    await rw.close();
    const ro = new SqliteStore(file, { readOnly: true });
    assert.equal((await ro.controls(1000)).length, 1);
    await assert.rejects(ro.acquireLease('web', 'plan', 1000, 60_000), /readonly/);
    await ro.close();
  });

  it('neither creates a missing file nor upgrades an older schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-ro-'));
    assert.throws(() => new SqliteStore(join(dir, 'missing.db'), { readOnly: true }), /unable to open|does not exist/);
    const old = join(dir, 'old.db');
    const Sqlite = sqliteDatabase();
    const db = new Sqlite(old);
    db.pragma('user_version = 1');
    db.close();
    assert.throws(() => new SqliteStore(old, { readOnly: true }), (err: unknown) => err instanceof StoreError && /schema version 1, .*run 'fleetwarden run' once first/.test(err.message));
    const check = new Sqlite(old, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), 1);
    check.close();
  });
});
