/**
 * Hub and spoke (issue 12 item 4): groups in other accounts and regions, each observed and acted on through its own
 * ports with the credentials of the role it names (sts:AssumeRole with its ExternalId), on the wire against the
 * local fake. A role that cannot be assumed fails its own group's tick, reported; the other groups converge.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { awsPorts } from '../../src/app/aws.js';
import { parseConfig } from '../../src/config/load.js';
import { ValidationErrors } from '../../src/domain/errors.js';
import { VirtualClock } from '../../src/domain/time.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { FakeAws, type FakeRequest } from './fake-aws.js';

const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const STS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const ERP_ROLE = 'arn:aws:iam::111111111111:role/FleetwardenSpoke';
const PAY_ROLE = 'arn:aws:iam::222222222222:role/FleetwardenSpoke';
/** The key each credential signs with: the controller's own, and the role it was given when assuming ERP_ROLE. */
const HUB_KEY = 'AKIDHUB';
const ERP_KEY = 'ASIAERPSPOKE';

/** One stopped instance per (region, group); the erp and pay ones live in their spokes' regions. */
const INSTANCES: Record<string, [string, string][]> = {
  'eu-west-1': [['i-0eu0000000000web1', 'web']],
  'us-west-2': [['i-0us0000000000erp1', 'erp']],
  'ap-southeast-2': [['i-0ap0000000000pay1', 'pay']],
};

function world(r: FakeRequest): { status?: number; body: string } {
  const ec2 = (action: string, inner = ''): { body: string } => ({ body: `<${action}Response xmlns="${EC2}"><requestId>r</requestId>${inner}</${action}Response>` });
  switch (r.action) {
    case 'AssumeRole':
      if (r.params['RoleArn'] === PAY_ROLE) return { status: 403, body: `<ErrorResponse xmlns="${STS}"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::999999999999:role/hub is not authorized to perform: sts:AssumeRole on resource: ${PAY_ROLE}</Message></Error><RequestId>r</RequestId></ErrorResponse>` };
      return { body: `<AssumeRoleResponse xmlns="${STS}"><AssumeRoleResult><Credentials><AccessKeyId>${ERP_KEY}</AccessKeyId><SecretAccessKey>spoke-secret</SecretAccessKey><SessionToken>spoke-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA:fleetwarden</AssumedRoleId><Arn>${ERP_ROLE}/fleetwarden</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>` };
    case 'DescribeInstances':
      return ec2('DescribeInstances', `<reservationSet><item><instancesSet>${(INSTANCES[r.region] ?? []).map(([id, group]) => `<item><instanceId>${id}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>${r.region}a</availabilityZone></placement><instanceState><code>80</code><name>stopped</name></instanceState><tagSet><item><key>fleetwarden:group-name</key><value>${group}</value></item></tagSet></item>`).join('')}</instancesSet></item></reservationSet>`);
    case 'DescribeInstanceStatus':
      return ec2('DescribeInstanceStatus', '<instanceStatusSet></instanceStatusSet>');
    case 'StartInstances':
      return ec2('StartInstances');
    case 'DescribeTargetGroups':
      return { body: `<DescribeTargetGroupsResponse xmlns="${ELB}"><DescribeTargetGroupsResult><TargetGroups></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>` };
    default:
      return { status: 400, body: JSON.stringify({ __type: 'InvalidAction', message: r.action }) };
  }
}

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
  fake.handler = world;
});
after(() => fake.stop());

const running = { fleets: { main: { desired: 1 } } };
const config = parseConfig({
  provider: 'aws',
  aws: { region: 'eu-west-1' },
  groups: [
    { name: 'web', ...running },
    { name: 'erp', ...running, aws: { region: 'us-west-2', roleArn: ERP_ROLE, externalId: 'fw-erp-7d1c' } },
    { name: 'pay', ...running, aws: { region: 'ap-southeast-2', roleArn: PAY_ROLE, externalId: 'fw-pay-3a9e' } },
  ],
});
const sdk = (): { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string }; maxAttempts: number } => ({ endpoint, credentials: { accessKeyId: HUB_KEY, secretAccessKey: 'hub-secret' }, maxAttempts: 1 });
const T0 = Date.parse('2026-06-01T10:00:00Z');

describe('groups in other accounts and regions (hub and spoke)', () => {
  it('each group is listed in its region with its role’s credentials; a role that cannot be assumed leaves its group unobserved, the others not', async () => {
    fake.requests.length = 0;
    const ports = awsPorts(config, new VirtualClock(T0), sdk());
    const found = await ports.provider.listInstances(['fleetwarden:group-name']);
    assert.deepEqual(found.map((i) => i.id).sort(), ['i-0eu0000000000web1', 'i-0us0000000000erp1']);
    const assumed = fake.calls('AssumeRole').map((r) => [r.service, r.region, r.accessKeyId, r.params['RoleArn'], r.params['ExternalId'], r.params['RoleSessionName']]);
    assert.deepEqual(assumed.sort(), [
      ['sts', 'ap-southeast-2', HUB_KEY, PAY_ROLE, 'fw-pay-3a9e', 'fleetwarden'],
      ['sts', 'us-west-2', HUB_KEY, ERP_ROLE, 'fw-erp-7d1c', 'fleetwarden'],
    ]);
    assert.deepEqual(fake.calls('DescribeInstances').map((r) => [r.region, r.accessKeyId]).sort(), [['eu-west-1', HUB_KEY], ['us-west-2', ERP_KEY]], 'no EC2 call without credentials; the spoke’s with the assumed key');
    const unobserved = ports.provider.unobserved?.() ?? new Map<string, Error>();
    assert.deepEqual([...unobserved.keys()], ['pay']);
    assert.match(unobserved.get('pay')?.message ?? '', /not authorized to perform: sts:AssumeRole/);
  });

  it('a tick: web and erp converge (each started where it lives, with its credentials); pay’s tick fails, recorded, and nothing is sent for it', async () => {
    fake.requests.length = 0;
    const clock = new VirtualClock(T0);
    const store = new SqliteStore(':memory:');
    const ports = awsPorts(config, clock, sdk());
    const reconciler = new Reconciler({ config, ...ports, store, clock, owner: 'hub', sleep: () => Promise.resolve(), retry: { attempts: 1, baseMs: 1, maxMs: 1 } });
    const summary = await reconciler.tick();
    assert.deepEqual(summary.groups.map((g) => g.group).sort(), ['erp', 'web']);
    assert.deepEqual(summary.failed.map((f) => f.group), ['pay']);
    assert.match(summary.failed[0]?.error ?? '', /AccessDenied|not authorized/);
    assert.deepEqual(fake.calls('StartInstances').map((r) => [r.region, r.accessKeyId, r.params['InstanceId.1']]).sort(), [['eu-west-1', HUB_KEY, 'i-0eu0000000000web1'], ['us-west-2', ERP_KEY, 'i-0us0000000000erp1']]);
    const payHistory = await store.history({ group: 'pay', limit: 10 });
    assert.ok(payHistory.some((h) => h.type === 'error' && /AssumeRole|AccessDenied|not authorized/.test(h.summary)), 'the failure is in pay’s history');
    await store.close();
  });

  it('roleArn, externalId and region are validated, naming the field', () => {
    const bad = (aws: Record<string, unknown>): string => {
      try {
        parseConfig({ provider: 'aws', groups: [{ name: 'erp', aws }] });
      } catch (err) {
        assert.ok(err instanceof ValidationErrors);
        return err.message;
      }
      return 'accepted';
    };
    assert.match(bad({ roleArn: 'arn:aws:iam::12345:role/x' }), /groups\[0\]\.aws\.roleArn.*IAM role ARN/);
    assert.match(bad({ roleArn: ERP_ROLE, externalId: 'x' }), /groups\[0\]\.aws\.externalId.*2-1224/);
    assert.match(bad({ roleArn: ERP_ROLE, externalId: 'a'.repeat(1225) }), /groups\[0\]\.aws\.externalId/);
    assert.match(bad({ externalId: 'fw-erp-7d1c' }), /groups\[0\]\.aws\.externalId: only applies with roleArn/);
    assert.match(bad({ region: 'eu-west' }), /groups\[0\]\.aws\.region.*AWS region/);
    assert.equal(bad({ region: 'us-west-2', roleArn: 'arn:aws-us-gov:iam::123456789012:role/path/Spoke', externalId: 'a'.repeat(1224) }), 'accepted');
  });
});
