/**
 * Events out to a webhook, against a real local node:http server, from a real tick of the simulated controller:
 * the payload and its signature, a 500 then 200 delivering the event once, and a receiver that hangs or is gone
 * neither holding up nor failing the tick — its failure visible in the publisher's stats and reported.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { eventSinks, openController, virtualTime } from '../../src/app/compose.js';
import { EventPublisher } from '../../src/app/events.js';
import { parseConfigText } from '../../src/config/load.js';
import { ValidationError, ValidationErrors } from '../../src/domain/errors.js';
import { webhookSignature } from '../../src/providers/webhook/webhook.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
// The demo's office hours begin at 08:00: the first tick after starts instances (transitions to publish).
const START = Date.parse('2026-06-01T08:05:00Z');
const SECRET = 'whsec-test-0123456789abcdef';

function demoWith(events: string): ReturnType<typeof parseConfigText> {
  return parseConfigText(`${readFileSync(DEMO, 'utf8')}\nevents:\n${events}\n`);
}

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A receiver answering each request with the next status of `statuses` (the last one repeats); `hang`: never. */
async function receiver(statuses: readonly number[] | 'hang'): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (statuses === 'hang') return;
      res.writeHead(statuses[Math.min(got.length - 1, statuses.length - 1)] ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/fleetwarden`, got, server };
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

const noSleep = (): Promise<void> => Promise.resolve();

describe('events out: webhook', () => {
  it('a tick’s transitions are POSTed as JSON with a signature the receiver can verify', async () => {
    const rx = await receiver([200]);
    servers.push(rx.server);
    process.env['FW_TEST_WEBHOOK_SECRET'] = SECRET;
    const config = demoWith(`  webhook: { url: "${rx.url}", secretEnv: FW_TEST_WEBHOOK_SECRET }`);
    const { clock, sleep } = virtualTime(START);
    const ctl = await openController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'events-test' });
    try {
      await ctl.reconciler.tick();
      await ctl.events?.flush(5_000);
    } finally {
      await ctl.close();
    }
    assert.ok(rx.got.length > 0, 'something was published');
    const transitions = rx.got.map((r) => JSON.parse(r.body) as { id: string; source: string; 'detail-type': string; detail: Record<string, unknown> }).filter((b) => b['detail-type'] === 'Fleetwarden Instance Transition');
    assert.ok(transitions.length > 0, 'the tick’s transitions are among them');
    const t = transitions[0];
    assert.equal(t?.source, 'fleetwarden');
    assert.deepEqual(Object.keys(t.detail).sort(), ['at', 'from', 'group', 'instance', 'reason', 'to']);
    for (const r of rx.got) {
      assert.equal(r.headers['content-type'], 'application/json');
      const ts = String(r.headers['x-fleetwarden-timestamp']);
      assert.equal(r.headers['x-fleetwarden-signature'], webhookSignature(SECRET, ts, r.body), 'the signature verifies with the shared secret');
      assert.notEqual(r.headers['x-fleetwarden-signature'], webhookSignature('another secret', ts, r.body));
      assert.equal(r.headers['x-fleetwarden-event-id'], (JSON.parse(r.body) as { id: string }).id);
      assert.ok(!r.body.includes(SECRET) && !JSON.stringify(r.headers).includes(SECRET), 'the secret itself is never sent');
    }
    assert.equal(ctl.events?.stats()[0]?.delivered, rx.got.length);
  });

  it('a receiver answering 500 and then 200 gets the event delivered once, under the same id', async () => {
    const rx = await receiver([500, 200]);
    servers.push(rx.server);
    const config = demoWith(`  webhook: { url: "${rx.url}" }`);
    const failures: string[] = [];
    const pub = new EventPublisher(await eventSinks(config, { now: () => START }), { sleep: noSleep, onFailure: (_s, m) => failures.push(m) });
    pub.offer({ type: 'transition', at: START, group: 'web', instance: 'i-0123', from: 'stopped', to: 'starting', reason: 'schedule' });
    await pub.flush(5_000);
    assert.equal(rx.got.length, 2);
    assert.equal(rx.got[0]?.body, rx.got[1]?.body);
    assert.equal(rx.got[0]?.headers['x-fleetwarden-signature'], undefined, 'no secret, no signature');
    assert.deepEqual(pub.stats()[0], { sink: 'webhook', delivered: 1, failed: 0, dropped: 0, queued: 0, lastError: failures[0] ?? null });
    assert.match(failures[0] ?? '', /HTTP 500; trying again/);
  });

  it('a receiver that hangs does not hold up the tick; one that is gone does not fail it; both failures are visible', async () => {
    const hanging = await receiver('hang');
    servers.push(hanging.server);
    const gone = await receiver([200]);
    await new Promise((r) => gone.server.close(r)); // nothing listens there any more
    for (const url of [hanging.url, gone.url]) {
      const config = demoWith(`  webhook: { url: "${url}", timeout: 0.2 }`);
      const { clock, sleep } = virtualTime(START);
      const failures: string[] = [];
      const ctl = await openController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'events-test', onPublishFailure: (_s, m) => failures.push(m), publisherSleep: noSleep });
      try {
        const summary = await ctl.reconciler.tick();
        // The tick is over while its events are still on their way: it did not wait for them.
        const during = ctl.events?.stats()[0];
        assert.ok(during !== undefined);
        assert.equal(during.delivered, 0);
        assert.equal(during.failed, 0);
        assert.ok(during.queued > 0, 'its events still queued when the tick returned');
        assert.deepEqual(summary.failed, [], 'the tick did not fail');
        assert.ok(summary.groups.length > 0);
        await ctl.events?.flush(10_000);
        const afterwards = ctl.events?.stats()[0];
        assert.ok((afterwards?.failed ?? 0) > 0, `given up on after its attempts (${url})`);
        assert.match(afterwards?.lastError ?? '', url === hanging.url ? /no answer within 200 ms/ : /ECONNREFUSED/);
        assert.ok(failures.length > 0, 'and reported');
      } finally {
        await ctl.close();
      }
    }
  });

  it('a secret variable that is not set, or a URL that is not one, is refused naming the field', async () => {
    delete process.env['FW_TEST_UNSET_SECRET'];
    const config = demoWith(`  webhook: { url: "https://hooks.example.com/x", secretEnv: FW_TEST_UNSET_SECRET }`);
    await assert.rejects(eventSinks(config, { now: () => START }), (err: unknown) => err instanceof ValidationError && err.field === 'events.webhook.secretEnv' && /FW_TEST_UNSET_SECRET is not set/.test(err.message));
    assert.throws(() => demoWith(`  webhook: { url: "ftp://x" }`), (err: unknown) => err instanceof ValidationErrors && err.message.includes('events.webhook.url') && err.message.includes('http:// or https://'));
  });
});
