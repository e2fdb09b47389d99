/**
 * Events out to EventBridge, on the wire (PutEvents, JSON 1.1) against the local fake: the request's shape, batches
 * of at most 10 entries, a partly failed call retried for its failed entries only, and throttling backed off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventBridgeSink } from '../../src/app/aws.js';
import { EventPublisher } from '../../src/app/events.js';
import { parseConfig } from '../../src/config/load.js';
import type { ControllerEvent } from '../../src/reconciler/reconciler.js';
import { FakeAws, type FakeRequest } from './fake-aws.js';

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
});
after(() => fake.stop());

const config = parseConfig({ provider: 'aws', aws: { region: 'eu-west-1' }, events: { eventBridge: { busName: 'ops' } }, groups: [{ name: 'web' }] });
const sdk = (): { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string }; maxAttempts: number } => ({ endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
const T0 = Date.parse('2026-06-01T00:00:00Z');
const transition = (n: number): ControllerEvent => ({ type: 'transition', at: T0 + n * 1000, group: 'web', instance: `i-${String(n).padStart(17, '0')}`, from: 'stopped', to: 'starting', reason: 'schedule office-hours' });
const entries = (r: FakeRequest): { Source: string; DetailType: string; Detail: string; EventBusName?: string; Time?: number }[] => r.json['Entries'] as never;
const ok = (r: FakeRequest): { body: string } => ({ body: JSON.stringify({ FailedEntryCount: 0, Entries: entries(r).map((_, i) => ({ EventId: `e-${i}` })) }) });
const noSleep = (): Promise<void> => Promise.resolve();

describe('EventBridge sink (PutEvents)', () => {
  it('sends source fleetwarden, a detail-type per kind and the detail JSON to the configured bus', async () => {
    fake.requests.length = 0;
    fake.handler = ok;
    const pub = new EventPublisher([eventBridgeSink(config, sdk())], { sleep: noSleep });
    pub.offer(transition(1));
    pub.offer({ type: 'error', at: T0, group: 'web', instance: 'i-00000000000000001', message: 'stop i-00000000000000001 not sent: window patch began' });
    pub.offer({ type: 'lease', at: T0, group: 'web', message: 'acquired' }); // not published
    await pub.flush(5_000);
    const calls = fake.calls('PutEvents');
    assert.equal(calls.length, 1);
    const call = calls[0];
    assert.ok(call !== undefined);
    assert.equal(call.service, 'events');
    assert.equal(call.region, 'eu-west-1');
    const sent = entries(call);
    assert.deepEqual(sent.map((e) => [e.Source, e.DetailType, e.EventBusName]), [['fleetwarden', 'Fleetwarden Instance Transition', 'ops'], ['fleetwarden', 'Fleetwarden Action Refused', 'ops']]);
    const detail = JSON.parse(sent[0]?.Detail ?? '{}') as Record<string, unknown>;
    assert.deepEqual({ ...detail, id: typeof detail['id'] }, { id: 'string', group: 'web', instance: 'i-00000000000000001', from: 'stopped', to: 'starting', reason: 'schedule office-hours', at: '2026-06-01T00:00:01Z' });
    assert.equal((JSON.parse(sent[1]?.Detail ?? '{}') as { instance: string }).instance, 'i-00000000000000001');
    assert.deepEqual(pub.stats()[0], { sink: 'eventbridge', delivered: 2, failed: 0, dropped: 0, queued: 0, lastError: null });
  });

  it('25 events go out in 3 calls of at most 10 entries', async () => {
    fake.requests.length = 0;
    fake.handler = ok;
    const pub = new EventPublisher([eventBridgeSink(config, sdk())], { sleep: noSleep });
    for (let n = 0; n < 25; n++) pub.offer(transition(n));
    await pub.flush(5_000);
    assert.deepEqual(fake.calls('PutEvents').map((r) => entries(r).length), [10, 10, 5]);
    assert.equal(pub.stats()[0]?.delivered, 25);
  });

  it('a partly failed PutEvents is retried for its failed entries only', async () => {
    fake.requests.length = 0;
    let first = true;
    fake.handler = (r) => {
      if (!first) return ok(r);
      first = false;
      // Entries 2 and 4 throttled (per entry, as EventBridge answers with FailedEntryCount).
      return { body: JSON.stringify({ FailedEntryCount: 2, Entries: entries(r).map((_, i) => (i === 1 || i === 3 ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' } : { EventId: `e-${i}` })) }) };
    };
    const failures: string[] = [];
    const pub = new EventPublisher([eventBridgeSink(config, sdk())], { sleep: noSleep, onFailure: (_s, m) => failures.push(m) });
    for (let n = 0; n < 5; n++) pub.offer(transition(n));
    await pub.flush(5_000);
    const calls = fake.calls('PutEvents').map((r) => entries(r).map((e) => (JSON.parse(e.Detail) as { instance: string }).instance));
    assert.deepEqual(calls, [['i-00000000000000000', 'i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003', 'i-00000000000000004'], ['i-00000000000000001', 'i-00000000000000003']]);
    assert.equal(pub.stats()[0]?.delivered, 5);
    assert.match(failures[0] ?? '', /2 of 5 event\(s\) not delivered: ThrottlingException/);
  });

  it('a throttled call is backed off and sent again; a denied one is given up on and reported, not retried', async () => {
    fake.requests.length = 0;
    let n = 0;
    fake.handler = (r) => (n++ < 2 ? { status: 400, body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }) } : ok(r));
    const slept: number[] = [];
    const pub = new EventPublisher([eventBridgeSink(config, sdk())], { sleep: (ms) => (slept.push(ms), Promise.resolve()), backoffMs: 100 });
    pub.offer(transition(1));
    await pub.flush(5_000);
    assert.equal(fake.calls('PutEvents').length, 3);
    assert.deepEqual(slept, [100, 200], 'exponential back-off');
    assert.equal(pub.stats()[0]?.delivered, 1);

    fake.requests.length = 0;
    fake.handler = () => ({ status: 400, body: JSON.stringify({ __type: 'AccessDeniedException', message: 'not authorized to perform: events:PutEvents' }) });
    const denied = new EventPublisher([eventBridgeSink(config, sdk())], { sleep: noSleep });
    denied.offer(transition(1));
    await denied.flush(5_000);
    assert.equal(fake.calls('PutEvents').length, 1, 'a terminal error is not retried');
    assert.equal(denied.stats()[0]?.failed, 1);
    assert.match(denied.stats()[0]?.lastError ?? '', /AccessDeniedException/);
  });
});
