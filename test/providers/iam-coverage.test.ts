/**
 * The generated IAM policy against the calls the adapters really make: one scenario per feature drives the real
 * adapters through the recording endpoint (answering EC2, ELBv2 and SSM itself, passing S3 and DynamoDB on to
 * s3rver and dynalite); every recorded call must be allowed — action, resource and tag condition, checked by a small
 * IAM evaluator — by the policy of a configuration using that feature, and that policy must grant nothing the
 * feature did not call (least privilege).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { EventBridgeSink } from '../../src/providers/aws/eventbridge.js';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { type FleetConfig, namingFor } from '../../src/config/config.js';
import { parseConfig } from '../../src/config/load.js';
import { VirtualClock } from '../../src/domain/time.js';
import type { AwsFeature } from '../../src/ports/aws-calls.js';
import { Ec2Provider } from '../../src/providers/aws/ec2.js';
import { Elbv2LoadBalancer } from '../../src/providers/aws/elbv2.js';
import { AWS_CALLS, type IamPolicy, iamPolicy } from '../../src/app/iam-policy.js';
import { S3ObjectStore } from '../../src/providers/aws/s3.js';
import { SsmAdapter } from '../../src/providers/aws/ssm.js';
import { DynamoStore } from '../../src/store/dynamodb/store.js';
import { pruneObjects } from '../../src/store/objects/objects.js';
import { FakeAws, type FakeRequest } from './fake-aws.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const KEY = 'fleetwarden:group-name';
const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const TG = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web/0123456789abcdef`;
const BUCKET = 'ops-logs';
const PREFIX = 'fw/';
const TABLE = 'fw-state';
const SPOKE_ROLE = 'arn:aws:iam::210987654321:role/FleetwardenSpoke';
/** Instances of the world: tagged with group web; one Linux, one Windows. */
const INSTANCES: Record<string, 'Linux' | 'Windows'> = { 'i-0000000000000lin1': 'Linux', 'i-0000000000000win1': 'Windows' };
const IDS = Object.keys(INSTANCES);

const elb = (action: string, result: string): string => `<${action}Response xmlns="${ELB}"><${action}Result>${result}</${action}Result></${action}Response>`;
const ec2 = (action: string, inner = ''): string => `<${action}Response xmlns="${EC2}"><requestId>r</requestId>${inner}</${action}Response>`;

/** The cloud the EC2, ELBv2 and SSM adapters talk to. */
function world(r: FakeRequest): { status?: number; body: string } {
  const json = (o: unknown): { body: string } => ({ body: JSON.stringify(o) });
  switch (r.action) {
    case 'DescribeInstances':
      return { body: ec2('DescribeInstances', `<reservationSet><item><instancesSet>${IDS.map((id) => `<item><instanceId>${id}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>${REGION}a</availabilityZone></placement><instanceState><code>16</code><name>running</name></instanceState><tagSet><item><key>${KEY}</key><value>web</value></item></tagSet></item>`).join('')}</instancesSet></item></reservationSet>`) };
    case 'DescribeInstanceStatus':
      return { body: ec2('DescribeInstanceStatus', `<instanceStatusSet>${IDS.map((id) => `<item><instanceId>${id}</instanceId><systemStatus><status>ok</status></systemStatus><instanceStatus><status>ok</status></instanceStatus></item>`).join('')}</instanceStatusSet>`) };
    case 'StartInstances':
    case 'StopInstances':
      return { body: ec2(r.action) };
    case 'DescribeTargetGroups':
      return { body: elb(r.action, `<TargetGroups><member><TargetGroupArn>${TG}</TargetGroupArn><TargetType>instance</TargetType></member></TargetGroups>`) };
    case 'DescribeTags':
      return { body: elb(r.action, `<TagDescriptions><member><ResourceArn>${TG}</ResourceArn><Tags><member><Key>${KEY}</Key><Value>web</Value></member></Tags></member></TagDescriptions>`) };
    case 'DescribeTargetHealth':
      return { body: elb(r.action, `<TargetHealthDescriptions>${IDS.map((id) => `<member><Target><Id>${id}</Id></Target><TargetHealth><State>healthy</State></TargetHealth></member>`).join('')}</TargetHealthDescriptions>`) };
    case 'DescribeTargetGroupAttributes':
      return { body: elb(r.action, '<Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>60</Value></member></Attributes>') };
    case 'RegisterTargets':
    case 'DeregisterTargets':
      return { body: elb(r.action, '') };
    case 'DescribeMaintenanceWindows':
      return json({ WindowIdentities: [{ WindowId: 'mw-0000000000000r01', Name: 'FW-web', Enabled: true, Duration: 2, Cutoff: 0, Schedule: 'rate(7 days)' }] });
    case 'ListTagsForResource':
      return json({ TagList: [{ Key: KEY, Value: 'web' }] });
    case 'GetMaintenanceWindow':
      return json({ WindowId: r.json['WindowId'], CreatedDate: Date.parse('2026-05-01T00:00:00Z') / 1000 });
    case 'DescribeInstanceInformation':
      return json({ InstanceInformationList: IDS.map((id) => ({ InstanceId: id, PingStatus: 'Online', PlatformType: INSTANCES[id] })) });
    case 'SendCommand':
      return json({ Command: { CommandId: `cmd-${(r.json['DocumentName'] as string).length}-${(r.json['InstanceIds'] as string[]).join('+')}` } });
    case 'CancelCommand':
      return json({});
    case 'AssumeRole':
      return { body: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIASPOKE</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>` };
    case 'PutEvents':
      return json({ FailedEntryCount: 0, Entries: (r.json['Entries'] as unknown[]).map((_, i) => ({ EventId: `e-${i}` })) });
    case 'ListCommandInvocations':
      return json({ CommandInvocations: IDS.map((id) => ({ InstanceId: id, Status: 'Success', CommandPlugins: [{ Output: 'FLEETWARDEN-STATUS ok 0\nFLEETWARDEN-BYPASS absent', ResponseCode: 0 }] })) });
    default:
      return { status: 400, body: JSON.stringify({ __type: 'InvalidAction', message: r.action }) };
  }
}

// ---- a small IAM evaluator (every statement allows): exact actions, ARN globs, StringEquals on aws:ResourceTag ----------

interface Wanted {
  readonly action: string;
  readonly arn: string;
  readonly tags?: Readonly<Record<string, string>>;
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
  return re.test(value);
}

function conditionHolds(condition: Record<string, Record<string, string | string[]>> | undefined, tags: Readonly<Record<string, string>>): boolean {
  return Object.entries(condition ?? {}).every(([op, keys]) => op === 'StringEquals' && Object.entries(keys).every(([key, values]) => key.startsWith('aws:ResourceTag/') && [values].flat().includes(tags[key.slice('aws:ResourceTag/'.length)] ?? '\u0000')));
}

function allowed(policy: IamPolicy, w: Wanted): boolean {
  return policy.Statement.some((s) => s.Action.includes(w.action) && [s.Resource].flat().some((r) => glob(r, w.arn)) && conditionHolds(s.Condition, w.tags ?? {}));
}

/** The IAM action of a wire operation, from AWS's service authorization reference (independent of the declarations). */
function iamActionOf(r: FakeRequest): string {
  const renamed: Record<string, string> = { 's3:ListObjectsV2': 's3:ListBucket', 's3:DeleteObjects': 's3:DeleteObject' };
  const plain = `${r.service}:${r.action}`;
  return renamed[plain] ?? plain;
}

/** What a recorded request asks IAM for: its action on each resource it touches ('*' for calls IAM cannot narrow). */
function wanted(r: FakeRequest): Wanted[] {
  const action = iamActionOf(r);
  const instance = (id: string): Wanted => ({ action, arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${id}`, tags: { [KEY]: 'web' } });
  const listed = (prefix: string): string[] => Object.entries(r.params).filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  switch (`${r.service}:${r.action}`) {
    case 'ec2:StartInstances':
    case 'ec2:StopInstances':
      return listed('InstanceId.').map(instance);
    case 'elasticloadbalancing:RegisterTargets':
    case 'elasticloadbalancing:DeregisterTargets':
      return [{ action, arn: r.params['TargetGroupArn'] ?? '', tags: { [KEY]: 'web' } }];
    case 'ssm:SendCommand': {
      // AWS-owned documents have no account in their ARN; the account's own documents do.
      const document = String(r.json['DocumentName']);
      return [{ action, arn: `arn:aws:ssm:${REGION}:${/^(AWS|Amazon)/.test(document) ? '' : ACCOUNT}:document/${document}` }, ...(r.json['InstanceIds'] as string[]).map(instance)];
    }
    case 's3:PutObject':
    case 's3:GetObject':
      return [{ action, arn: `arn:aws:s3:::${r.path.slice(1)}` }];
    case 's3:DeleteObjects':
      return [...r.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => ({ action, arn: `arn:aws:s3:::${BUCKET}/${m[1] ?? ''}` }));
    case 's3:ListObjectsV2':
      return [{ action, arn: `arn:aws:s3:::${r.path.split('/')[1] ?? ''}` }];
    case 'sts:AssumeRole':
      return [{ action, arn: r.params['RoleArn'] ?? '' }];
    case 'events:PutEvents':
      // Each entry's bus: its EventBusName (a name here), or the default bus.
      return (r.json['Entries'] as { EventBusName?: string }[]).map((e) => ({ action, arn: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${e.EventBusName ?? 'default'}` }));
    default:
      if (r.service === 'dynamodb') return Object.keys((r.json['RequestItems'] as Record<string, unknown> | undefined) ?? { [String(r.json['TableName'])]: 1 }).map((t) => ({ action, arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${t}` }));
      return [{ action, arn: '*' }];
  }
}

// ---- the scenarios ------------------------------------------------------------------------------------------------

const fake = new FakeAws();
const s3Proxy = new FakeAws();
const dynamoProxy = new FakeAws();
let s3rver: S3rver | undefined;
let db: ReturnType<typeof dynalite> | undefined;
const endpoints = { fake: '', s3: '', dynamo: '' };
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

before(async () => {
  endpoints.fake = await fake.start();
  fake.handler = world;
  s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: mkdtempSync(join(tmpdir(), 'fw-iam-s3-')), configureBuckets: [{ name: BUCKET }] });
  const { port } = await s3rver.run();
  endpoints.s3 = await s3Proxy.start();
  s3Proxy.upstream = `http://127.0.0.1:${port}`;
  db = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => db?.listen(0, '127.0.0.1', () => resolve()));
  const dynalitePort = (db.address() as AddressInfo).port;
  await DynamoStore.createTable(new DynamoDBClient({ endpoint: `http://127.0.0.1:${dynalitePort}`, region: REGION, credentials }), TABLE); // an operator's step: not recorded
  endpoints.dynamo = await dynamoProxy.start();
  dynamoProxy.upstream = `http://127.0.0.1:${dynalitePort}`;
});
after(async () => {
  fake.stop();
  s3Proxy.stop();
  dynamoProxy.stop();
  await s3rver?.close();
  db?.close();
});

const client = { region: REGION, credentials, maxAttempts: 1 };
const clock = (): VirtualClock => new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
const ssm = (): SsmAdapter => new SsmAdapter({ client: new SSMClient({ ...client, endpoint: endpoints.fake }), clock: clock(), naming: namingFor('fleetwarden'), outputBucket: BUCKET, outputPrefix: PREFIX });

/** Each feature: the configuration that turns it on, and what the adapters do for it. */
const FEATURES: Record<AwsFeature, { config: Record<string, unknown>; group?: Record<string, unknown>; run: () => Promise<void> }> = {
  fleet: {
    config: {},
    run: async () => {
      const provider = new Ec2Provider({ client: new EC2Client({ ...client, endpoint: endpoints.fake }), clock: clock() });
      await provider.listInstances([KEY]);
      await provider.start(IDS);
      await provider.stop(IDS, { force: false });
      const lb = new Elbv2LoadBalancer({ client: new ElasticLoadBalancingV2Client({ ...client, endpoint: endpoints.fake }), clock: clock(), groupTagKey: KEY });
      await lb.targetHealth();
      await lb.deregistrationDelays();
      await lb.deregister(TG, IDS);
      await lb.register(TG, IDS);
    },
  },
  'window-discovery': {
    config: { ssm: { discovery: true } },
    run: async () => {
      await ssm().list();
    },
  },
  events: {
    config: {},
    group: { events: { 'instance-ready-for-shutdown': { enabled: true } } },
    run: async () => {
      const s = ssm();
      const handles = [await s.runEvent('web', IDS, 'instance-ready-for-shutdown', ['draining'], 30_000), await s.checkBypass('web', IDS, 'C:\\keep', 'windows'), await s.checkBypass('web', IDS, '/etc/keep', 'linux')];
      await s.results(handles);
    },
  },
  'maintenance-tasks': {
    config: {},
    group: {
      maintenance: {
        windows: [
          {
            name: 'FW-web-patch',
            schedule: 'cron(0 2 ? * SUN *)',
            durationHours: 2,
            tasks: [
              { name: 'patch', command: 'yum -y update' },
              { name: 'scan', priority: 2, document: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] }, outputBucket: 'patch-logs', outputPrefix: 'scan/' },
              { name: 'check', priority: 3, document: 'Fw-Healthcheck' },
            ],
          },
        ],
      },
    },
    run: async () => {
      const s = ssm();
      const shell = await s.runScript('web', IDS[0] ?? '', 'mw-1', 'yum -y update', 600_000, { mayRerun: false });
      // Documents go to every platform (the Windows instance too); the task's own output location is SSM's to use.
      const scan = await s.runScript('web', IDS[1] ?? '', 'mw-2', 'AWS-RunPatchBaseline Operation=Scan', 600_000, { mayRerun: false, document: { name: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] } }, output: { bucket: 'patch-logs', prefix: 'scan/' } });
      const check = await s.runScript('web', IDS[0] ?? '', 'mw-3', 'Fw-Healthcheck', 600_000, { mayRerun: false, document: { name: 'Fw-Healthcheck', parameters: {} } });
      await s.cancel(scan, IDS[1] ?? ''); // cutoff with cancel, or `executions cancel`
      await s.results([shell, scan, check]);
    },
  },
  'output-bucket': {
    config: { aws: { outputBucket: BUCKET, outputPrefix: PREFIX } },
    run: async () => {
      const objects = new S3ObjectStore({ bucket: BUCKET, prefix: PREFIX, client: new S3Client({ ...client, endpoint: endpoints.s3, forcePathStyle: true }) });
      await objects.put('executions/web/patch/i-1-1.log', 'patched');
      assert.equal(await objects.get('executions/web/patch/i-1-1.log'), 'patched');
      assert.equal(await objects.get('executions/web/none.log'), null);
      await pruneObjects(objects, 'executions/', Date.now() + 60_000); // lists, then deletes what is older
      assert.deepEqual(await objects.list('executions/'), []);
    },
  },
  'event-bus': {
    config: { aws: { region: REGION }, events: { eventBridge: { busName: 'ops' } } },
    run: async () => {
      const sink = new EventBridgeSink({ client: new EventBridgeClient({ ...client, endpoint: endpoints.fake }), busName: 'ops' });
      const result = await sink.publish([{ id: 'e1', detailType: 'Fleetwarden Instance Transition', at: Date.parse('2026-06-01T00:00:00Z'), detail: { group: 'web' } }]);
      assert.deepEqual(result, { retry: [], rejected: [] });
    },
  },
  'spoke-roles': {
    config: {},
    group: { aws: { region: REGION, roleArn: SPOKE_ROLE, externalId: 'fw-spoke-1' } },
    run: async () => {
      // What app/aws.ts gives a spoke's clients: the role's credentials, assumed with the controller's own.
      const assumed = await fromTemporaryCredentials({ params: { RoleArn: SPOKE_ROLE, RoleSessionName: 'fleetwarden', ExternalId: 'fw-spoke-1' }, masterCredentials: credentials, clientConfig: { region: REGION, endpoint: endpoints.fake } })();
      assert.equal(assumed.accessKeyId, 'ASIASPOKE');
    },
  },
  'state-table': {
    config: { store: { kind: 'dynamodb', table: TABLE } },
    run: async () => {
      const store = new DynamoStore({ table: TABLE, client: new DynamoDBClient({ ...client, endpoint: endpoints.dynamo }) });
      const now = Date.parse('2026-06-01T00:00:00Z');
      const lease = await store.acquireLease('web', 'me', now, 60_000);
      assert.ok(lease);
      const history = Array.from({ length: 30 }, (_, n) => ({ at: now, group: 'web', instanceId: 'i-1', type: 'transition' as const, summary: `step ${n}` }));
      await store.saveTick({ group: 'web', lease, at: now, records: [{ instanceId: 'i-1', group: 'web', state: 'running', since: now, reason: 'r' }], transitions: [], history, newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
      assert.equal((await store.loadGroup('web')).records.size, 1);
      assert.equal((await store.allRecords()).length, 1);
      await store.setOverride({ group: 'web', key: 'fleets.main.desired', value: { kind: 'absolute', value: 2 }, expiresAt: now + 3_600_000, reason: 'test' } as never, now);
      assert.equal(await store.removeOverride('web', 'fleets.main.desired'), true);
      await store.appendHistory([{ at: now, group: 'web', instanceId: null, type: 'control', summary: 'appended' }]);
      assert.ok((await store.history({ group: 'web', limit: 100 })).length > 30);
      await store.pruneHistory(now + 1);
      await store.releaseLease('web', 'me');
      await store.close();
    },
  },
};

const configFor = (f: AwsFeature | null): FleetConfig => {
  const spec = f === null ? FEATURES.fleet : FEATURES[f];
  return parseConfig({ provider: 'aws', groups: [{ name: 'web', ...spec.group }], ...spec.config });
};
const actionsOf = (p: IamPolicy): Set<string> => new Set(p.Statement.flatMap((s) => s.Action));

describe('the generated IAM policy covers every call the adapters make, and no more', () => {
  const recorded = new Map<AwsFeature, FakeRequest[]>();

  before(async () => {
    for (const [feature, spec] of Object.entries(FEATURES) as [AwsFeature, (typeof FEATURES)[AwsFeature]][]) {
      for (const f of [fake, s3Proxy, dynamoProxy]) f.requests.length = 0;
      await spec.run();
      recorded.set(feature, [...fake.requests, ...s3Proxy.requests, ...dynamoProxy.requests]);
    }
  });

  for (const feature of Object.keys(FEATURES) as AwsFeature[]) {
    it(`${feature}: every call is declared and allowed, on the resources it touches, by the policy of a configuration using it`, () => {
      const calls = recorded.get(feature) ?? [];
      assert.ok(calls.length > 0);
      const policy = iamPolicy(configFor(feature));
      for (const r of calls) {
        const declared = AWS_CALLS.filter((c) => c.service === r.service && c.operation === r.action);
        assert.ok(declared.length > 0, `${r.service} ${r.action} is made but not declared`);
        assert.ok(declared.every((c) => c.action === iamActionOf(r)) && declared.some((c) => c.features.includes(feature)), `${r.service} ${r.action}: declared as ${declared.map((c) => `${c.action} for ${c.features.join('/')}`).join(', ')}`);
        for (const w of wanted(r)) assert.ok(allowed(policy, w), `${w.action} on ${w.arn} is denied by ${JSON.stringify(policy, null, 1)}`);
      }
    });

    it(`${feature}: the policy grants nothing the feature does not call, and a configuration without it gets none of its own calls`, () => {
      const base = actionsOf(iamPolicy(configFor(null)));
      const used = new Set((recorded.get(feature) ?? []).map(iamActionOf));
      const granted = actionsOf(iamPolicy(configFor(feature)));
      const baseCalls = new Set((recorded.get('fleet') ?? []).map(iamActionOf));
      assert.deepEqual([...granted].filter((a) => !base.has(a)).sort(), [...used].filter((a) => !baseCalls.has(a)).sort());
      if (feature === 'fleet') assert.deepEqual([...base].sort(), [...used].sort());
      for (const other of Object.keys(FEATURES) as AwsFeature[]) {
        if (other === feature || other === 'fleet') continue;
        const own = [...new Set((recorded.get(other) ?? []).map(iamActionOf))].filter((a) => !used.has(a) && !baseCalls.has(a));
        assert.deepEqual(own.filter((a) => granted.has(a)), [], `${feature}'s policy has ${other}'s calls`);
      }
    });
  }

  it('documents: events may send both shell documents, maintenance tasks the shell one and the documents their tasks name', () => {
    const docs = (f: AwsFeature): string[] => [...new Set((recorded.get(f) ?? []).filter((r) => r.action === 'SendCommand').map((r) => String(r.json['DocumentName'])))].sort();
    assert.deepEqual(docs('events'), ['AWS-RunPowerShellScript', 'AWS-RunShellScript']);
    assert.deepEqual(docs('maintenance-tasks'), ['AWS-RunPatchBaseline', 'AWS-RunShellScript', 'Fw-Healthcheck']);
    assert.ok((recorded.get('maintenance-tasks') ?? []).some((r) => r.action === 'CancelCommand'), 'the scenario cancels a task script');
    const tasks = iamPolicy(configFor('maintenance-tasks'));
    assert.equal(allowed(tasks, { action: 'ssm:SendCommand', arn: `arn:aws:ssm:${REGION}::document/AWS-RunPowerShellScript` }), false);
    assert.equal(allowed(tasks, { action: 'ssm:SendCommand', arn: `arn:aws:ssm:${REGION}::document/AWS-RunRemoteScript` }), false, 'a document no task names');
    assert.equal(allowed(tasks, { action: 'ssm:SendCommand', arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-other`, tags: { [KEY]: 'payroll' } }), false, 'only the group’s instances');
  });

  it('a workload selected by its own tag (envFilterTag): start, stop and SendCommand on its untagged-by-us instances are allowed by that tag and value alone', async () => {
    const cfg = parseConfig({
      provider: 'aws',
      groups: [{ name: 'web' }, { name: 'erp', workload: { envFilterTag: { key: 'Environment', value: 'ENV001' }, tierTag: 'Role', tiers: [{ name: 'DB', start: { sequence: 0 }, stop: { sequence: 0 }, bypassFile: { path: '/etc/keep' } }] } }],
    });
    fake.requests.length = 0;
    const provider = new Ec2Provider({ client: new EC2Client({ ...client, endpoint: endpoints.fake }), clock: clock() });
    await provider.start(IDS);
    await provider.stop(IDS, { force: false });
    const s = ssm();
    await s.results([await s.checkBypass('erp', IDS, '/etc/keep', 'linux')]);
    const policy = iamPolicy(cfg);
    const onInstances = fake.requests.flatMap(wanted).filter((w) => w.arn.includes(':instance/'));
    assert.deepEqual([...new Set(onInstances.map((w) => w.action))].sort(), ['ec2:StartInstances', 'ec2:StopInstances', 'ssm:SendCommand']);
    for (const w of onInstances) {
      assert.ok(allowed(policy, { ...w, tags: { Environment: 'ENV001', Role: 'DB' } }), `${w.action} on an instance tagged Environment=ENV001 only`);
      assert.equal(allowed(policy, { ...w, tags: { Environment: 'ENV002', Role: 'DB' } }), false, `${w.action}: another environment is not granted`);
      assert.equal(allowed(policy, { ...w, tags: { Role: 'DB' } }), false, `${w.action}: an instance of no group is not granted`);
      assert.ok(allowed(policy, w), `${w.action}: the group-tagged instances of web still are`);
    }
  });

  it('the state-table scenario exercises every DynamoDB call the store declares', () => {
    const made = new Set((recorded.get('state-table') ?? []).map((r) => r.action));
    assert.deepEqual(AWS_CALLS.filter((c) => c.service === 'dynamodb' && !made.has(c.operation)).map((c) => c.operation), []);
  });
});
