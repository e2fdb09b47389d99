/**
 * Target health read per group: reconcileGroup (the Lambda worker's step) asks ELBv2 only for the target groups of
 * the group it reconciles — DescribeTargetHealth takes one target group a call, and the account-region's ELBv2
 * Describe* bucket is shared by every worker; a tick of all groups (`run`) still reads them all. On the wire fake,
 * through the composition root (openController), as `run` and the worker build it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openController } from '../../src/app/compose.js';
import { parseConfig } from '../../src/config/load.js';
import { VirtualClock } from '../../src/domain/time.js';
import { FakeAws, type FakeRequest } from './fake-aws.js';

const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const KEY = 'fleetwarden:group-name';
const tg = (name: string): string => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${name}/0123456789abcdef`;
/** Each group has its instance and target group; `shop` (not configured) has a target group too. */
const GROUPS = ['web', 'erp', 'api'];
const TGS = [...GROUPS, 'shop'];
const idOf = (g: string): string => `i-0000000000000${g}`;

function answer(r: FakeRequest): { status?: number; body: string } {
  switch (r.action) {
    case 'DescribeInstances': {
      const only = r.params['Filter.1.Name'] === `tag:${KEY}` ? Object.entries(r.params).filter(([k]) => k.startsWith('Filter.1.Value.')).map(([, v]) => v) : GROUPS;
      const items = GROUPS.filter((g) => only.includes(g)).map((g) => `<item><instanceId>${idOf(g)}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>eu-west-1a</availabilityZone></placement><instanceState><code>16</code><name>running</name></instanceState><tagSet><item><key>${KEY}</key><value>${g}</value></item></tagSet></item>`);
      return { body: `<DescribeInstancesResponse xmlns="${EC2}"><reservationSet><item><instancesSet>${items.join('')}</instancesSet></item></reservationSet></DescribeInstancesResponse>` };
    }
    case 'DescribeInstanceStatus':
      return { body: `<DescribeInstanceStatusResponse xmlns="${EC2}"><instanceStatusSet></instanceStatusSet></DescribeInstanceStatusResponse>` };
    case 'DescribeTargetGroups':
      return { body: `<DescribeTargetGroupsResponse xmlns="${ELB}"><DescribeTargetGroupsResult><TargetGroups>${TGS.map((g) => `<member><TargetGroupArn>${tg(g)}</TargetGroupArn><TargetType>instance</TargetType></member>`).join('')}</TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>` };
    case 'DescribeTags': {
      const arns = Object.entries(r.params).filter(([k]) => k.startsWith('ResourceArns.member.')).map(([, v]) => v);
      return { body: `<DescribeTagsResponse xmlns="${ELB}"><DescribeTagsResult><TagDescriptions>${arns.map((a) => `<member><ResourceArn>${a}</ResourceArn><Tags><member><Key>${KEY}</Key><Value>${/targetgroup\/([^/]+)\//.exec(a)?.[1] ?? ''}</Value></member></Tags></member>`).join('')}</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>` };
    }
    case 'DescribeTargetHealth': {
      const g = /targetgroup\/([^/]+)\//.exec(r.params['TargetGroupArn'] ?? '')?.[1] ?? '';
      const members = GROUPS.includes(g) ? [idOf(g)] : [];
      return { body: `<DescribeTargetHealthResponse xmlns="${ELB}"><DescribeTargetHealthResult><TargetHealthDescriptions>${members.map((id) => `<member><Target><Id>${id}</Id></Target><TargetHealth><State>healthy</State></TargetHealth></member>`).join('')}</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>` };
    }
    case 'DescribeTargetGroupAttributes':
      return { body: `<DescribeTargetGroupAttributesResponse xmlns="${ELB}"><DescribeTargetGroupAttributesResult><Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>30</Value></member></Attributes></DescribeTargetGroupAttributesResult></DescribeTargetGroupAttributesResponse>` };
    default:
      return { status: 400, body: `<Response><Errors><Error><Code>InvalidAction</Code><Message>${r.action}</Message></Error></Errors></Response>` };
  }
}

const fake = new FakeAws();
const saved = { ...process.env };
before(async () => {
  const endpoint = await fake.start();
  fake.handler = answer;
  Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '1' });
});
after(() => {
  fake.stop();
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AWS_MAX_ATTEMPTS']) {
    const v = saved[k];
    if (v === undefined) Reflect.deleteProperty(process.env, k);
    else process.env[k] = v;
  }
});

const healthReads = (): string[] => fake.calls('DescribeTargetHealth').map((r) => /targetgroup\/([^/]+)\//.exec(r.params['TargetGroupArn'] ?? '')?.[1] ?? '').sort();

describe('target health per group (ELBv2 DescribeTargetHealth)', () => {
  it('reconcileGroup reads only its group’s target groups; a tick of all groups reads every managed one', async () => {
    const config = parseConfig({ provider: 'aws', aws: { region: 'eu-west-1' }, groups: GROUPS.map((name) => ({ name })) });
    const ctl = await openController(config, { stateDir: mkdtempSync(join(tmpdir(), 'fw-tgscope-')), clock: new VirtualClock(Date.parse('2026-06-01T00:00:00Z')), owner: 'test' });
    try {
      fake.requests.length = 0;
      const one = await ctl.reconciler.reconcileGroup('erp');
      assert.deepEqual(one.failed, []);
      assert.deepEqual(healthReads(), ['erp'], 'one group: one DescribeTargetHealth, for its own target group');
      assert.deepEqual([...(await ctl.store.loadGroup('erp')).records.keys()], [idOf('erp')], 'its instance is adopted as before');

      fake.requests.length = 0;
      const all = await ctl.reconciler.tick();
      assert.deepEqual(all.failed, []);
      assert.deepEqual(healthReads(), ['api', 'erp', 'shop', 'web'], 'all groups: every managed target group, as before');
    } finally {
      await ctl.close();
    }
  });
});
