/** The API answers a failure by its error kind alone (api/server.ts errorAnswer): one status per kind. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import type { RequestLog } from '../../src/api/server.js';
import { type Served, serveApi, TRANSPORTS } from './transports.js';
import { hashToken } from '../../src/api/services.js';
import { type ErrorKind, LeaseLostError, ProviderError } from '../../src/domain/errors.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const ADMIN = 'test-admin-token-0123456789';
const CONFIG = parseConfigText(`
groups:
  - name: web
    fleets: {main: {min: 1}}
`);

for (const transport of TRANSPORTS) describe(`API: error kinds → HTTP statuses (${transport})`, () => {
  const store = new SqliteStore(':memory:');
  const logs: RequestLog[] = [];
  /** What the window source throws for the next request. */
  let failure: Error = new Error("unset");
  let served: Served;
  let base = '';

  before(async () => {
    const ssmWindows = (): Promise<never> => Promise.reject(failure);
    served = await serveApi({ store, config: CONFIG, clock: { now: () => Date.parse('2026-06-01T10:00:00Z') }, live: null, adminTokenHash: hashToken(ADMIN), ssmWindows, log: (e) => logs.push(e) }, transport);
    base = served.base;
  });
  after(async () => {
    await served.close();
    await store.close();
  });

  async function windowsFailingWith(err: Error): Promise<{ status: number; code: string; message: string; retryAfter: string | null }> {
    failure = err;
    const r = await fetch(`${base}/v1/windows`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = (await r.json()) as { error: { code: string; message: string } };
    return { status: r.status, code: body.error.code, message: body.error.message, retryAfter: r.headers.get('retry-after') };
  }

  it('each kind has its status; only a retryable failure asks the client to come back (Retry-After)', async () => {
    const table: [ErrorKind, number, string][] = [
      ['invalid-input', 400, 'invalid'],
      ['not-found', 404, 'not-found'],
      ['conflict', 409, 'conflict'],
      ['retryable', 503, 'unavailable'],
      ['terminal', 500, 'internal'],
    ];
    for (const [kind, status, code] of table) {
      const a = await windowsFailingWith(new ProviderError(kind, 'ssm', 'SomeCode', 'm'));
      assert.deepEqual([a.status, a.code, a.retryAfter !== null], [status, code, kind === 'retryable'], kind);
    }
    assert.equal((await windowsFailingWith(new ProviderError('retryable', 'ssm', 'ThrottlingException', 'Rate exceeded'))).retryAfter, '5');
  });

  it('errors outside providers follow their kind too; a plain Error is internal and its text stays in the log', async () => {
    assert.equal((await windowsFailingWith(new LeaseLostError('web', 'lease lost'))).status, 409);
    const a = await windowsFailingWith(new TypeError('secret detail'));
    assert.deepEqual([a.status, a.code], [500, 'internal']);
    assert.doesNotMatch(a.message, /secret detail/);
    assert.match(logs.at(-1)?.error ?? '', /secret detail/);
  });
});
