/**
 * AWS API calls per tick for 1,000 and 10,000 instances: the real adapters (EC2, ELBv2, SSM) and reconciler against
 * a local endpoint that answers in AWS's shapes and counts calls. 20 groups, one target group and one maintenance
 * window each, SSM discovery on. The first tick adopts the fleet (and reads each target group's deregistration
 * delay, re-read every 30 minutes); a steady-state tick should cost
 * ceil(N/1000) DescribeInstances pages + one DescribeTargetHealth per target group + the window list, and make no
 * mutating call.
 */
import { performance } from 'node:perf_hooks';
import { awsPorts } from '../src/app/aws.js';
import { parseConfig } from '../src/config/load.js';
import { VirtualClock } from '../src/domain/time.js';
import { Reconciler } from '../src/reconciler/reconciler.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { FakeAws, type FakeRequest } from '../test/providers/fake-aws.js';
import { fmt, printTable } from './lib.js';

const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const GROUPS = 20;
const MUTATING = new Set(['StartInstances', 'StopInstances', 'RegisterTargets', 'DeregisterTargets', 'SendCommand']);

const tgArn = (g: number): string => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/g${g}/${String(g).padStart(16, '0')}`;
const id = (n: number): string => `i-${String(n).padStart(17, '0')}`;

function handler(n: number): (r: FakeRequest) => { status?: number; body: string } {
  return (r) => {
    switch (r.action) {
      case 'DescribeInstances': {
        const start = Number(r.params['NextToken'] ?? '0');
        const end = Math.min(n, start + 1000);
        let items = '';
        for (let i = start; i < end; i++) items += `<item><instanceId>${id(i)}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>eu-west-1a</availabilityZone></placement><instanceState><code>16</code><name>running</name></instanceState><tagSet><item><key>fleetwarden:group-name</key><value>g${i % GROUPS}</value></item></tagSet></item>`;
        return { body: `<DescribeInstancesResponse xmlns="${EC2}"><reservationSet><item><instancesSet>${items}</instancesSet></item></reservationSet>${end < n ? `<nextToken>${end}</nextToken>` : ''}</DescribeInstancesResponse>` };
      }
      case 'DescribeInstanceStatus': {
        const ids = Object.entries(r.params).filter(([k]) => k.startsWith('InstanceId.')).map(([, v]) => v);
        return { body: `<DescribeInstanceStatusResponse xmlns="${EC2}"><instanceStatusSet>${ids.map((i) => `<item><instanceId>${i}</instanceId><systemStatus><status>ok</status></systemStatus><instanceStatus><status>ok</status></instanceStatus></item>`).join('')}</instanceStatusSet></DescribeInstanceStatusResponse>` };
      }
      case 'DescribeTargetGroups':
        return { body: `<DescribeTargetGroupsResponse xmlns="${ELB}"><DescribeTargetGroupsResult><TargetGroups>${Array.from({ length: GROUPS }, (_, g) => `<member><TargetGroupArn>${tgArn(g)}</TargetGroupArn><TargetType>instance</TargetType></member>`).join('')}</TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>` };
      case 'DescribeTags': {
        const arns = Object.entries(r.params).filter(([k]) => k.startsWith('ResourceArns.member.')).map(([, v]) => v);
        return { body: `<DescribeTagsResponse xmlns="${ELB}"><DescribeTagsResult><TagDescriptions>${arns.map((a) => `<member><ResourceArn>${a}</ResourceArn><Tags><member><Key>fleetwarden:group-name</Key><Value>g${Number(/targetgroup\/g(\d+)/.exec(a)?.[1])}</Value></member></Tags></member>`).join('')}</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>` };
      }
      case 'DescribeTargetHealth': {
        const g = Number(/targetgroup\/g(\d+)/.exec(r.params['TargetGroupArn'] ?? '')?.[1]);
        let members = '';
        for (let i = g; i < n; i += GROUPS) members += `<member><Target><Id>${id(i)}</Id></Target><TargetHealth><State>healthy</State></TargetHealth></member>`;
        return { body: `<DescribeTargetHealthResponse xmlns="${ELB}"><DescribeTargetHealthResult><TargetHealthDescriptions>${members}</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>` };
      }
      case 'DescribeTargetGroupAttributes':
        return { body: `<DescribeTargetGroupAttributesResponse xmlns="${ELB}"><DescribeTargetGroupAttributesResult><Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>300</Value></member></Attributes></DescribeTargetGroupAttributesResult></DescribeTargetGroupAttributesResponse>` };
      case 'DescribeMaintenanceWindows':
        return { body: JSON.stringify({ WindowIdentities: Array.from({ length: GROUPS }, (_, g) => ({ WindowId: `mw-${String(g).padStart(17, '0')}`, Name: `FW-g${g}`, Enabled: true, Duration: 2, Cutoff: 0, Schedule: 'cron(0 3 ? * SUN#1 *)' })) }) };
      case 'ListTagsForResource':
        return { body: JSON.stringify({ TagList: [{ Key: 'fleetwarden:group-name', Value: `g${Number(/mw-0*(\d+)/.exec(String(r.json['ResourceId']))?.[1] ?? 0)}` }] }) };
      default:
        return { status: 400, body: `<Response><Errors><Error><Code>InvalidAction</Code><Message>${r.action}</Message></Error></Errors></Response>` };
    }
  };
}

function count(requests: readonly FakeRequest[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of requests) m.set(r.action, (m.get(r.action) ?? 0) + 1);
  return m;
}

export async function benchAws(): Promise<void> {
  console.log('\n== bench/aws: AWS API calls per tick (EC2, ELBv2, SSM adapters against a counting local endpoint) ==');
  const fake = new FakeAws();
  const endpoint = await fake.start();
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench' });
  const rows: string[][] = [];
  try {
    for (const n of [1000, 10_000]) {
      fake.handler = handler(n);
      const config = parseConfig({ provider: 'aws', ssm: { discovery: true }, groups: Array.from({ length: GROUPS }, (_, g) => ({ name: `g${g}`, fleets: { main: { desired: '100%' } } })) });
      const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
      const store = new SqliteStore(':memory:');
      const reconciler = new Reconciler({ config, ...awsPorts(config, clock), store, clock, owner: 'bench', sleep: () => Promise.resolve() });
      fake.requests.length = 0;
      await reconciler.tick();
      const first = count(fake.requests);
      // Adopted instances are initializing until the warm-up has passed: tick until nothing moves.
      for (let i = 0; i < 10; i++) {
        clock.set(clock.now() + 30_000);
        await reconciler.tick();
      }
      clock.set(clock.now() + 30_000);
      fake.requests.length = 0;
      const t0 = performance.now();
      await reconciler.tick();
      const ms = performance.now() - t0;
      const steady = count(fake.requests);
      const mutating = [...steady].filter(([a]) => MUTATING.has(a)).reduce((s, [, c]) => s + c, 0);
      const fmtCalls = (m: Map<string, number>): string => [...m].map(([a, c]) => `${a} ${c}`).join(', ');
      rows.push([fmt(n), 'first tick', fmtCalls(first), fmt([...first.values()].reduce((a, b) => a + b, 0)), '']);
      rows.push([fmt(n), 'steady tick', fmtCalls(steady), fmt(fake.requests.length), `${mutating} mutating; bound ${Math.ceil(n / 1000) + GROUPS + 1}; ${fmt(ms, 0)} ms`]);
      await store.close();
    }
  } finally {
    process.env = saved;
    fake.stop();
  }
  printTable(['instances', 'tick', 'calls by action', 'total', 'notes'], rows);
}
