/**
 * A workload in another region, with its own SSM output bucket (seed 003 `Region`, `SSMS3BucketName`,
 * `SSMS3KeyPrefixName`): the composition root's ports, on the wire, against a local fake that records the region
 * each request is signed for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { awsPorts } from '../../src/app/aws.js';
import { parseConfig } from '../../src/config/load.js';
import { ValidationErrors } from '../../src/domain/errors.js';
import { VirtualClock } from '../../src/domain/time.js';
import { FakeAws, type FakeRequest } from './fake-aws.js';

const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

/** What each region holds: in each, one instance of a group living there and one that only looks like it. */
const INSTANCES: Record<string, Record<string, Record<string, string>>> = {
  'eu-west-1': { 'i-0eu00000000000web': { 'fleetwarden:group-name': 'web' }, 'i-0eu00000000000env': { Environment: 'ENV001', Role: 'DB' } },
  'us-west-2': { 'i-0us00000000000erp': { Environment: 'ENV001', Role: 'DB' }, 'i-0us00000000000web': { 'fleetwarden:group-name': 'web' } },
};

function world(r: FakeRequest): { status?: number; body: string } {
  const here = INSTANCES[r.region] ?? {};
  const ec2 = (action: string, inner = ''): { body: string } => ({ body: `<${action}Response xmlns="${EC2}"><requestId>r</requestId>${inner}</${action}Response>` });
  switch (r.action) {
    case 'DescribeInstances':
      return ec2('DescribeInstances', `<reservationSet><item><instancesSet>${Object.entries(here).map(([id, tags]) => `<item><instanceId>${id}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>${r.region}a</availabilityZone></placement><instanceState><code>80</code><name>stopped</name></instanceState><tagSet>${Object.entries(tags).map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`).join('')}</tagSet></item>`).join('')}</instancesSet></item></reservationSet>`);
    case 'StartInstances':
      return ec2('StartInstances');
    case 'DescribeTargetGroups':
      return { body: `<DescribeTargetGroupsResponse xmlns="${ELB}"><DescribeTargetGroupsResult><TargetGroups></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>` };
    case 'DescribeInstanceInformation':
      return { body: JSON.stringify({ InstanceInformationList: Object.keys(here).map((id) => ({ InstanceId: id, PingStatus: 'Online', PlatformType: 'Linux' })) }) };
    case 'SendCommand':
      return { body: JSON.stringify({ Command: { CommandId: `cmd-${r.region}` } }) };
    case 'ListCommandInvocations':
      return { body: JSON.stringify({ CommandInvocations: [] }) };
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

const erp = { name: 'erp', workload: { region: 'us-west-2', envFilterTag: { key: 'Environment', value: 'ENV001' }, ssmOutputBucket: 'erp-ssm-out', ssmOutputPrefix: 'runs/', tierTag: 'Role', tiers: [{ name: 'DB', start: { sequence: 0 }, stop: { sequence: 0 }, bypassFile: { path: '/etc/keep' } }] } };
const config = parseConfig({ provider: 'aws', aws: { region: 'eu-west-1', outputBucket: 'ops-logs', outputPrefix: 'fw/' }, groups: [{ name: 'web' }, erp] });
const sdk = { endpoint: '', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 };

describe('a workload in its own region (Region, SSMS3BucketName, SSMS3KeyPrefixName)', () => {
  it('each region is listed; an instance is kept only where a group living in that region selects it; starts go to its region', async () => {
    fake.requests.length = 0;
    const ports = awsPorts(config, new VirtualClock(Date.parse('2026-06-01T00:00:00Z')), { ...sdk, endpoint });
    const found = await ports.provider.listInstances(['fleetwarden:group-name', 'Environment']);
    assert.deepEqual(fake.calls('DescribeInstances').map((r) => r.region).sort(), ['eu-west-1', 'us-west-2']);
    assert.deepEqual(found.map((i) => i.id).sort(), ['i-0eu00000000000web', 'i-0us00000000000erp'], 'the look-alikes in the other region are not taken');
    const results = await ports.provider.start(['i-0eu00000000000web', 'i-0us00000000000erp']);
    assert.ok(results.every((x) => x.ok));
    assert.deepEqual(fake.calls('StartInstances').map((r) => [r.region, r.params['InstanceId.1'], r.params['InstanceId.2']]).sort(), [['eu-west-1', 'i-0eu00000000000web', undefined], ['us-west-2', 'i-0us00000000000erp', undefined]]);
    await ports.lb.targetHealth();
    assert.deepEqual(fake.calls('DescribeTargetGroups').map((r) => r.region).sort(), ['eu-west-1', 'us-west-2'], 'target groups of both regions');
  });

  it('commands for the workload go to its region with its SSM output bucket and prefix; the others keep aws.outputBucket', async () => {
    fake.requests.length = 0;
    const ports = awsPorts(config, new VirtualClock(Date.parse('2026-06-01T00:00:00Z')), { ...sdk, endpoint });
    const handles = [await ports.runner.checkBypass('erp', ['i-0us00000000000erp'], '/etc/keep', 'linux'), await ports.runner.runEvent('web', ['i-0eu00000000000web'], 'instance-ready-for-shutdown', ['draining'], 30_000)];
    const sent = fake.calls('SendCommand').map((r) => [r.region, r.json['OutputS3BucketName'], r.json['OutputS3KeyPrefix'], (r.json['InstanceIds'] as string[])[0]]);
    assert.deepEqual(sent, [
      ['us-west-2', 'erp-ssm-out', 'runs/', 'i-0us00000000000erp'],
      ['eu-west-1', 'ops-logs', 'fw/', 'i-0eu00000000000web'],
    ]);
    await ports.runner.results(handles);
    assert.deepEqual(fake.calls('ListCommandInvocations').map((r) => [r.region, r.json['CommandId']]), [['us-west-2', 'cmd-us-west-2'], ['eu-west-1', 'cmd-eu-west-1']], 'each result is read where its command was sent');
  });

  it('a region or an output prefix that cannot be used is refused, naming the field', () => {
    const bad = (workload: Record<string, unknown>): string[] => {
      try {
        parseConfig({ groups: [{ ...erp, workload: { ...erp.workload, ...workload } }] });
        return [];
      } catch (err) {
        return err instanceof ValidationErrors ? err.issues.map((i) => i.message) : [String(err)];
      }
    };
    assert.deepEqual(bad({ region: 'uswest2' }), ['groups[0].workload.region: expected an AWS region such as us-west-2']);
    assert.deepEqual(bad({ ssmOutputBucket: 'logs*' }), ['groups[0].workload.ssmOutputBucket: expected an S3 bucket name (3-255 letters, digits, . _ -)']);
    assert.deepEqual(bad({ ssmOutputBucket: undefined }), ['groups[0].workload.ssmOutputPrefix: only applies with ssmOutputBucket']);
    assert.match(bad({ ssmOutputPrefix: 'runs/*' })[0] ?? '', /groups\[0\]\.workload\.ssmOutputPrefix: expected letters, digits/);
  });
});
