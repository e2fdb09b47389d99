/** EC2 adapter wire contract: request shapes, pagination, batching, error codes, and calls per tick. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EC2Client } from '@aws-sdk/client-ec2';
import { VirtualClock } from '../../src/domain/time.js';
import { ProviderError } from '../../src/domain/errors.js';
import { Ec2Provider } from '../../src/providers/aws/ec2.js';
import { ec2Error, FakeAws, type FakeRequest } from './fake-aws.js';

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const KEY = 'fleetwarden:group-name';

interface FakeInstance {
  id: string;
  state: string;
  zone: string;
  type: string;
  tags: Record<string, string>;
}

function fleet(n: number): FakeInstance[] {
  return Array.from({ length: n }, (_, i) => ({ id: `i-${String(i).padStart(17, '0')}`, state: i % 3 === 2 ? 'stopped' : 'running', zone: `eu-west-1${'abc'[i % 3] ?? 'a'}`, type: 't3.micro', tags: { [KEY]: `g${i % 50}`, Name: `n${i}` } }));
}

function describeInstances(all: FakeInstance[], req: FakeRequest): string {
  const start = Number(req.params['NextToken'] ?? '0');
  const size = Number(req.params['MaxResults'] ?? '1000');
  const page = all.slice(start, start + size);
  const next = start + size < all.length ? `<nextToken>${start + size}</nextToken>` : '';
  const items = page
    .map((i) => `<item><instanceId>${i.id}</instanceId><instanceType>${i.type}</instanceType><placement><availabilityZone>${i.zone}</availabilityZone></placement><instanceState><code>16</code><name>${i.state}</name></instanceState><tagSet>${Object.entries(i.tags).map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`).join('')}</tagSet></item>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="${NS}"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet>${items}</instancesSet></item></reservationSet>${next}</DescribeInstancesResponse>`;
}

function describeStatus(req: FakeRequest, status: (id: string) => [string, string]): string {
  const ids = Object.entries(req.params).filter(([k]) => k.startsWith('InstanceId.')).map(([, v]) => v);
  const items = ids.map((id) => {
    const [sys, inst] = status(id);
    return `<item><instanceId>${id}</instanceId><systemStatus><status>${sys}</status></systemStatus><instanceStatus><status>${inst}</status></instanceStatus></item>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?><DescribeInstanceStatusResponse xmlns="${NS}"><requestId>r</requestId><instanceStatusSet>${items.join('')}</instanceStatusSet></DescribeInstanceStatusResponse>`;
}

const ok = (action: string): string => `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="${NS}"><requestId>r</requestId></${action}Response>`;

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
});
after(() => fake.stop());

function provider(clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'))): Ec2Provider {
  const client = new EC2Client({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
  return new Ec2Provider({ client, clock, statusRefreshMs: 300_000 });
}

describe('EC2 adapter (wire contract)', () => {
  it('finds every group with one filtered, paginated DescribeInstances and maps states, tags, zones and types', async () => {
    const all = [...fleet(3), { id: 'i-x', state: 'shutting-down', zone: 'eu-west-1a', type: 'm5.large', tags: { [KEY]: 'web' } }];
    fake.requests.length = 0;
    fake.handler = (req) => ({ body: req.action === 'DescribeInstances' ? describeInstances(all, { ...req, params: { ...req.params, MaxResults: '2' } }) : describeStatus(req, () => ['ok', 'initializing']) });
    const found = await provider().listInstances([KEY]);
    const first = fake.calls('DescribeInstances')[0]?.params ?? {};
    assert.equal(first['Filter.1.Name'], 'tag-key');
    assert.equal(first['Filter.1.Value.1'], KEY);
    assert.equal(first['Filter.2.Name'], 'instance-state-name');
    assert.equal(first['MaxResults'], '1000');
    assert.equal(fake.calls('DescribeInstances').length, 2, 'two pages (the fake pages by 2)');
    assert.equal(fake.calls('DescribeInstances')[1]?.params['NextToken'], '2');
    assert.deepEqual(found.map((i) => [i.id, i.power, i.zone, i.instanceType, i.health]), [
      ['i-00000000000000000', 'running', 'eu-west-1a', 't3.micro', 'initializing'],
      ['i-00000000000000001', 'running', 'eu-west-1b', 't3.micro', 'initializing'],
      ['i-00000000000000002', 'stopped', 'eu-west-1c', 't3.micro', 'unknown'],
      ['i-x', 'stopping', 'eu-west-1a', 'm5.large', 'unknown'],
    ]);
    assert.deepEqual(found[0]?.tags, { [KEY]: 'g0', Name: 'n0' });
    const status = fake.calls('DescribeInstanceStatus')[0]?.params ?? {};
    assert.deepEqual([status['IncludeAllInstances'], status['InstanceId.1'], status['InstanceId.2']], ['true', 'i-00000000000000000', 'i-00000000000000001']);
  });

  it('workloads selected by their own tag (seed 003 EnvFilterTagName): the same single listing asks for either tag key', async () => {
    const all = [...fleet(1), { id: 'i-env', state: 'stopped', zone: 'eu-west-1a', type: 't3.micro', tags: { Environment: 'ENV001', Role: 'DB' } }];
    fake.requests.length = 0;
    fake.handler = (req) => ({ body: req.action === 'DescribeInstances' ? describeInstances(all, req) : describeStatus(req, () => ['ok', 'ok']) });
    const found = await provider().listInstances([KEY, 'Environment']);
    const params = fake.calls('DescribeInstances')[0]?.params ?? {};
    assert.deepEqual([params['Filter.1.Name'], params['Filter.1.Value.1'], params['Filter.1.Value.2']], ['tag-key', KEY, 'Environment'], 'one tag-key filter, its values ORed');
    assert.equal(fake.calls('DescribeInstances').length, 1);
    assert.deepEqual(found.find((i) => i.id === 'i-env')?.tags, { Environment: 'ENV001', Role: 'DB' });
  });

  it('one group (the Lambda worker): only its instances are listed, by tag value, one listing per selector, each instance once', async () => {
    const all = [...fleet(100), { id: 'i-env', state: 'stopped', zone: 'eu-west-1a', type: 't3.micro', tags: { Environment: 'ENV001', [KEY]: 'g7' } }];
    // The fake filters as EC2 does: `tag:<key>` with the values ORed.
    const filtered = (req: FakeRequest): FakeInstance[] => {
      const name = req.params['Filter.1.Name'] ?? '';
      const values = Object.entries(req.params).filter(([k]) => k.startsWith('Filter.1.Value.')).map(([, v]) => v);
      return name.startsWith('tag:') ? all.filter((i) => values.includes(i.tags[name.slice(4)] ?? '\u0000')) : all;
    };
    fake.requests.length = 0;
    fake.handler = (req) => ({ body: req.action === 'DescribeInstances' ? describeInstances(filtered(req), req) : describeStatus(req, () => ['ok', 'ok']) });
    const found = await provider().listInstances([KEY, 'Environment'], [{ key: KEY, value: 'g7' }, { key: 'Environment', value: 'ENV001' }]);
    assert.deepEqual(fake.calls('DescribeInstances').map((r) => [r.params['Filter.1.Name'], r.params['Filter.1.Value.1'], r.params['Filter.1.Value.2'], r.params['Filter.2.Name']]), [
      ['tag:fleetwarden:group-name', 'g7', undefined, 'instance-state-name'],
      ['tag:Environment', 'ENV001', undefined, 'instance-state-name'],
    ]);
    assert.deepEqual(found.map((i) => i.id), ['i-00000000000000007', 'i-00000000000000057', 'i-env'], 'g7’s two, and i-env once though both listings found it');
  });

  it('a steady-state tick for 10,000 instances makes ceil(N/1000) DescribeInstances pages and no other call', async () => {
    const all = fleet(10_000);
    fake.handler = (req) => ({ body: req.action === 'DescribeInstances' ? describeInstances(all, req) : describeStatus(req, () => ['ok', 'ok']) });
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const p = provider(clock);
    await p.listInstances([KEY]); // the first tick learns every running instance's status
    fake.requests.length = 0;
    clock.set(clock.now() + 30_000);
    const found = await p.listInstances([KEY]);
    assert.equal(found.length, 10_000);
    assert.deepEqual(fake.requests.map((r) => r.action), Array.from({ length: 10 }, () => 'DescribeInstances'));
    assert.ok(found.filter((i) => i.power === 'running').every((i) => i.health === 'ok'));
    clock.set(clock.now() + 300_000);
    fake.requests.length = 0;
    await p.listInstances([KEY]);
    assert.equal(fake.calls('DescribeInstanceStatus').length, Math.ceil(6667 / 100), 'a periodic refresh, in calls of 100 ids');
  });

  it('starts in calls of 25 and stops with Force when asked', async () => {
    fake.requests.length = 0;
    fake.handler = (req) => ({ body: ok(req.action) });
    const ids = Array.from({ length: 60 }, (_, i) => `i-${i}`);
    const results = await provider().start(ids);
    assert.deepEqual(fake.calls('StartInstances').map((c) => Object.keys(c.params).filter((k) => k.startsWith('InstanceId.')).length), [25, 25, 10]);
    assert.ok(results.every((r) => r.ok));
    await provider().stop(['i-1'], { force: true });
    assert.equal(fake.calls('StopInstances')[0]?.params['Force'], 'true');
  });

  it('a refused call is retried one by one, so only the instance in the wrong state fails', async () => {
    fake.requests.length = 0;
    fake.handler = (req) => (req.params['InstanceId.1'] === 'i-bad' || req.params['InstanceId.2'] === 'i-bad' ? ec2Error('IncorrectInstanceState', 'The instance i-bad is not in a state from which it can be started.') : { body: ok(req.action) });
    const results = await provider().start(['i-good', 'i-bad', 'i-fine']);
    assert.deepEqual(results.map((r) => [r.instanceId, r.ok]), [['i-good', true], ['i-bad', false], ['i-fine', true]]);
    assert.match(results[1]?.detail ?? '', /IncorrectInstanceState: The instance i-bad is not in a state/);
  });

  it('maps throttling and capacity errors at the boundary: throttling is retryable, capacity is a per-instance failure', async () => {
    fake.handler = () => ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    await assert.rejects(provider().listInstances([KEY]), (e: unknown) => e instanceof ProviderError && e.kind === 'retryable' && e.code === 'RequestLimitExceeded');
    fake.handler = () => ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient capacity.');
    const [r] = await provider().start(['i-1']);
    assert.deepEqual([r?.ok, /InsufficientInstanceCapacity/.test(r?.detail ?? '')], [false, true]);
    fake.handler = () => ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
    const [u] = await provider().stop(['i-1'], { force: false });
    assert.match(u?.detail ?? '', /UnauthorizedOperation/);
  });
});
