/**
 * Long polls where no tick wakes them (the API on a function URL): `wait` is cut to the deployment's maximum, the
 * store is looked at again every `lookEveryMs`, and an agent's poll reads its group's records after the first look
 * instead of every record (a table scan on DynamoDB).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashToken, issueToken } from '../../src/api/services.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Store } from '../../src/ports/index.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { fixtureSave } from '../support/fixture-save.js';
import { type Served, serveApi } from './transports.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');
const ADMIN = 'test-admin-token-long-poll-0123456789';

describe('long polls without a change feed (function URL)', { timeout: 30_000 }, () => {
  const inner = new SqliteStore(':memory:');
  const calls = new Map<string, number>();
  // The store as the API sees it, counting the reads a poll makes.
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const v = Reflect.get(target, name, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]): unknown => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Store;
  let served: Served;
  let agent = '';

  before(async () => {
    await fixtureSave(inner, { group: 'web', at: T0, records: [{ instanceId: 'i-a', group: 'web', state: 'running', since: T0, reason: 'test' }], transitions: [], history: [{ at: T0, group: 'web', instanceId: 'i-a', type: 'transition', summary: 'x' }], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    agent = (await issueToken(inner, 'agent', 'i-a', 'agent a', T0)).token;
    served = await serveApi({ store, config: parseConfigText('groups:\n  - name: web\n'), clock: { now: () => T0 }, live: null, adminTokenHash: hashToken(ADMIN), longPoll: { maxWaitS: 1, lookEveryMs: 100 } }, 'function URL');
  });
  after(async () => {
    await served.close();
    await inner.close();
  });

  const get = async (path: string, token: string): Promise<{ status: number; body: { version: string } }> => {
    const r = await fetch(`${served.base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (await r.json()) as { version: string } };
  };

  it('cuts a 60 s wait to the deployment’s 1 s, looking at the store again meanwhile', async () => {
    const v = (await get('/v1/changes', ADMIN)).body.version;
    calls.clear();
    const r = await get(`/v1/changes?wait=60&since=${encodeURIComponent(v)}`, ADMIN);
    assert.equal(r.status, 200);
    assert.equal(r.body.version, v, 'nothing changed: the same version once the (cut) wait is over');
    assert.ok((calls.get('history') ?? 0) >= 3, `looked again while waiting (${calls.get('history') ?? 0} looks)`);
  });

  it('an agent’s poll scans every record once, then reads only its group', async () => {
    const v = (await get('/v1/instances/i-a', agent)).body.version;
    calls.clear();
    const r = await get(`/v1/instances/i-a?wait=60&since=${encodeURIComponent(v)}`, agent);
    assert.equal(r.status, 200);
    assert.equal(calls.get('allRecords'), 1, 'one scan, for the first look');
    assert.ok((calls.get('loadGroup') ?? 0) >= 3, 'the later looks read the group');
  });
});
