/** ELBv2 adapter wire contract: discovery of tagged target groups, target health, (de)registration, errors, calls. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { VirtualClock } from '../../src/domain/time.js';
import { ProviderError } from '../../src/domain/errors.js';
import { Elbv2LoadBalancer } from '../../src/providers/aws/elbv2.js';
import { FakeAws, type FakeRequest } from './fake-aws.js';

const NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const KEY = 'fleetwarden:group-name';
const arn = (n: number): string => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg-${n}/${String(n).padStart(16, '0')}`;

function wrap(action: string, result: string): string {
  return `<?xml version="1.0"?><${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`;
}

/** 45 target groups (one of type ip); every third is tagged for group web, the others are not managed. */
function world(req: FakeRequest, health: Record<string, string>): { status?: number; body: string } {
  switch (req.action) {
    case 'DescribeTargetGroups': {
      const start = Number(req.params['Marker'] ?? '0');
      const all = Array.from({ length: 45 }, (_, i) => i);
      const page = all.slice(start, start + 20);
      const next = start + 20 < all.length ? `<NextMarker>${start + 20}</NextMarker>` : '';
      return { body: wrap('DescribeTargetGroups', `<TargetGroups>${page.map((i) => `<member><TargetGroupArn>${arn(i)}</TargetGroupArn><TargetGroupName>tg-${i}</TargetGroupName><TargetType>${i === 3 ? 'ip' : 'instance'}</TargetType></member>`).join('')}</TargetGroups>${next}`) };
    }
    case 'DescribeTags': {
      const arns = Object.entries(req.params).filter(([k]) => k.startsWith('ResourceArns.member.')).map(([, v]) => v);
      return { body: wrap('DescribeTags', `<TagDescriptions>${arns.map((a) => { const n = Number(/tg-(\d+)/.exec(a)?.[1]); return `<member><ResourceArn>${a}</ResourceArn><Tags>${n % 3 === 0 ? `<member><Key>${KEY}</Key><Value>web</Value></member>` : '<member><Key>team</Key><Value>x</Value></member>'}</Tags></member>`; }).join('')}</TagDescriptions>`) };
    }
    case 'DescribeTargetHealth':
      return { body: wrap('DescribeTargetHealth', `<TargetHealthDescriptions>${Object.entries(health).map(([id, state]) => `<member><Target><Id>${id}</Id><Port>80</Port></Target><TargetHealth><State>${state}</State></TargetHealth></member>`).join('')}</TargetHealthDescriptions>`) };
    case 'DescribeTargetGroupAttributes': {
      // tg-6 waits 10 minutes; tg-9 was deleted since discovery; the others take 45 s.
      const tg = req.params['TargetGroupArn'] ?? '';
      if (tg === arn(9)) return { status: 400, body: `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>TargetGroupNotFound</Code><Message>gone</Message></Error><RequestId>r</RequestId></ErrorResponse>` };
      return { body: wrap('DescribeTargetGroupAttributes', `<Attributes><member><Key>stickiness.enabled</Key><Value>false</Value></member><member><Key>deregistration_delay.timeout_seconds</Key><Value>${tg === arn(6) ? 600 : 45}</Value></member></Attributes>`) };
    }
    case 'RegisterTargets':
    case 'DeregisterTargets':
      return { body: wrap(req.action, '') };
    default:
      return { status: 400, body: `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>${req.action}</Message></Error><RequestId>r</RequestId></ErrorResponse>` };
  }
}

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
});
after(() => fake.stop());

function lb(clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'))): Elbv2LoadBalancer {
  const client = new ElasticLoadBalancingV2Client({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
  return new Elbv2LoadBalancer({ client, clock, groupTagKey: KEY });
}

describe('ELBv2 adapter (wire contract)', () => {
  it('manages only instance target groups tagged with the group; health maps onto Fleetwarden’s states', async () => {
    fake.requests.length = 0;
    fake.handler = (req) => world(req, { 'i-1': 'healthy', 'i-2': 'unhealthy.draining', 'i-3': 'initial', 'i-4': 'weird' });
    const l = lb();
    const groups = await l.targetGroups();
    assert.deepEqual(groups.map((g) => g.arn), [0, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42].map(arn), 'tagged, instance-type (tg-3 is ip) target groups');
    assert.equal(fake.calls('DescribeTargetGroups').length, 3, 'paginated with Marker');
    assert.equal(fake.calls('DescribeTargetGroups')[1]?.params['Marker'], '20');
    assert.deepEqual(fake.calls('DescribeTags').map((c) => Object.keys(c.params).filter((k) => k.startsWith('ResourceArns.member.')).length), [20, 20, 4]);
    const health = await l.targetHealth();
    assert.deepEqual(health.get('i-2')?.[arn(0)], 'draining');
    assert.deepEqual(health.get('i-3')?.[arn(0)], 'initial');
    assert.deepEqual(health.get('i-4')?.[arn(0)], 'unavailable');
    assert.equal(Object.keys(health.get('i-1') ?? {}).length, 14, 'one entry per managed target group');
  });

  it('a steady-state tick makes one DescribeTargetHealth per target group and nothing else', async () => {
    fake.handler = (req) => world(req, { 'i-1': 'healthy' });
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const l = lb(clock);
    await l.targetHealth();
    fake.requests.length = 0;
    clock.set(clock.now() + 30_000);
    await l.targetHealth();
    assert.deepEqual([...new Set(fake.requests.map((r) => r.action))], ['DescribeTargetHealth']);
    assert.equal(fake.requests.length, 14);
  });

  it('registers and deregisters instance targets', async () => {
    fake.requests.length = 0;
    fake.handler = (req) => world(req, {});
    const l = lb();
    await l.deregister(arn(0), ['i-1', 'i-2']);
    await l.register(arn(0), ['i-3']);
    const d = fake.calls('DeregisterTargets')[0]?.params ?? {};
    assert.deepEqual([d['TargetGroupArn'], d['Targets.member.1.Id'], d['Targets.member.2.Id']], [arn(0), 'i-1', 'i-2']);
    assert.equal(fake.calls('RegisterTargets')[0]?.params['Targets.member.1.Id'], 'i-3');
  });

  it('reads each managed target group’s deregistration delay once, and again only after 30 minutes; a deleted group is left out', async () => {
    fake.requests.length = 0;
    fake.handler = (req) => world(req, {});
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const l = lb(clock);
    const managed = [0, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42].map(arn);
    const delays = await l.deregistrationDelays();
    assert.deepEqual(fake.calls('DescribeTargetGroupAttributes').map((c) => c.params['TargetGroupArn']), managed, 'one call per managed target group (the API takes one)');
    assert.equal(delays.get(arn(0)), 45_000);
    assert.equal(delays.get(arn(6)), 600_000);
    assert.equal(delays.has(arn(9)), false, 'deleted since discovery: left out, the others still read');
    assert.equal(delays.size, 13);
    fake.requests.length = 0;
    clock.set(clock.now() + 29 * 60_000);
    await l.targetHealth();
    assert.equal((await l.deregistrationDelays()).get(arn(6)), 600_000);
    assert.equal(fake.calls('DescribeTargetGroupAttributes').length, 1, 'a steady-state tick reads none (only the deleted group is asked again)');
    clock.set(clock.now() + 60_000);
    fake.requests.length = 0;
    await l.deregistrationDelays();
    assert.equal(fake.calls('DescribeTargetGroupAttributes').length, 14, 'refreshed after 30 minutes');
    fake.handler = (req) => (req.action === 'DescribeTargetGroupAttributes' ? { status: 400, body: `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>` } : world(req, {}));
    await assert.rejects(lb(clock).deregistrationDelays(), (e: unknown) => e instanceof ProviderError && e.kind === 'retryable', 'throttling is retried by the tick, not mistaken for a missing group');
  });

  it('maps errors at the boundary: throttling is retryable, a missing target group is not', async () => {
    fake.handler = () => ({ status: 400, body: `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>` });
    await assert.rejects(lb().targetHealth(), (e: unknown) => e instanceof ProviderError && e.kind === 'retryable' && e.code === 'Throttling');
    fake.handler = () => ({ status: 400, body: `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>TargetGroupNotFound</Code><Message>not found</Message></Error><RequestId>r</RequestId></ErrorResponse>` });
    await assert.rejects(lb().deregister(arn(0), ['i-1']), (e: unknown) => e instanceof ProviderError && e.kind !== 'retryable' && e.code === 'TargetGroupNotFoundException');
  });
});
