/**
 * The CLI's API client decodes each answer with the route's wire schema (src/api/wire.ts): a server answering
 * another shape (a controller of another version, or not a controller) is a usage error naming the route and the
 * field, not a crash or a blank table further on. A real HTTP server plays the controller and answers what it is told.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { listen } from '../../src/api/server.js';
import { main } from '../../src/cli/program.js';

describe('the CLI decodes API answers with the wire schemas', () => {
  /** What the fake controller answers next: status and body (undefined: no body). */
  let next: { status: number; body?: unknown } = { status: 200, body: {} };
  const seen: string[] = [];
  let server: Server;
  let url = '';

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(next.status, next.body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(next.body === undefined ? undefined : JSON.stringify(next.body));
    });
    url = `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main([...args, '--url', url, '--token', 'a-token'], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('an answer of the expected shape is printed', async () => {
    next = { status: 200, body: { controls: [{ instance: 'i-a', kind: 'unstoppable', until: '2026-06-01T11:00:00Z', reason: 'debugging' }] } };
    const r = await cli('control', 'list');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^i-a\s+unstoppable\s+2026-06-01T11:00:00Z\s+debugging$/m);
  });

  it('a field of the wrong type is a usage error naming the route and the field (exit 2, no stack trace)', async () => {
    next = { status: 200, body: { controls: [{ instance: 'i-a', kind: 'unstoppable', until: 1780311600000, reason: 'debugging' }] } };
    const r = await cli('control', 'list');
    assert.equal(r.code, 2);
    assert.equal(r.out, '', 'nothing printed from a bad answer');
    assert.match(r.err, /^error: --url: GET \/v1\/controls answered a shape this CLI does not expect \(controls\[0\]\.until: Invalid input: expected string, received number\): is http:\/\/127\.0\.0\.1:\d+ a Fleetwarden controller of this version\?$/);
  });

  it('missing fields are named, at most three, with the count of the others; the query is not part of the route', async () => {
    next = { status: 200, body: { entries: [{ at: 5 }] } };
    const r = await cli('history', '--group', 'web', '--json');
    assert.equal(r.code, 2);
    assert.ok(seen.at(-1)?.startsWith('GET /v1/history?'), 'the query was sent');
    assert.match(r.err, /^error: --url: GET \/v1\/history answered a shape this CLI does not expect \(entries\[0\]\.at: [^;]+; entries\[0\]\.group: [^;]+; entries\[0\]\.instance: [^;]+; and \d+ more\)/);
    assert.equal(r.out, '', '--json prints nothing it could not decode');
  });

  it('a route that answers no body (204) is refused when it sends one', async () => {
    next = { status: 204 };
    const ok = await cli('override', 'remove', 'web', 'fleets.main.desired');
    assert.equal(ok.code, 0, ok.err);
    next = { status: 200, body: { removed: true } };
    const r = await cli('override', 'remove', 'web', 'fleets.main.desired');
    assert.equal(r.code, 2);
    assert.match(r.err, /DELETE \/v1\/groups\/web\/overrides\/fleets\.main\.desired answered a shape this CLI does not expect \(the whole answer: Invalid input: expected null, received object\)/);
  });

  it('an error answer that is not the error schema still says what happened', async () => {
    next = { status: 404, body: { error: 'gone' } };
    const r = await cli('executions', 'show', 'web/patch/2026-06-01T10:00:00Z');
    assert.equal(r.code, 2);
    assert.equal(r.err, 'error: HTTP 404');
  });
});
