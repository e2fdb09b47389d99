/** `fleetwarden aws iam-policy`: generated from the adapters' declared calls and the features a configuration uses. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { InvariantError, ValidationError } from '../../src/domain/errors.js';
import type { AwsCall } from '../../src/ports/aws-calls.js';
import { AWS_CALLS, type IamPolicy, iamPolicy, MUTATING_ON_ANY, spokePolicy } from '../../src/app/iam-policy.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const config = (extra: Record<string, unknown> = {}, group: Record<string, unknown> = {}) => parseConfig({ provider: 'aws', groups: [{ name: 'web', ...group }, { name: 'api' }], ...extra });
const actions = (p: IamPolicy): string[] => [...new Set(p.Statement.flatMap((s) => s.Action))].sort();
const statement = (p: IamPolicy, sid: string) => p.Statement.find((s) => s.Sid === sid);
const EVENTS = { events: { 'instance-ready-for-shutdown': { enabled: true } } };
const TASKS = { maintenance: { windows: [{ name: 'FW-web-patch', schedule: 'cron(0 2 ? * SUN *)', durationHours: 2, tasks: [{ name: 'patch', command: 'yum -y update' }] }] } };
const MUTATING = new Set(AWS_CALLS.filter((c) => c.mutating).map((c) => c.action));

describe('fleetwarden aws iam-policy', () => {
  it('a minimal configuration: reads on *, start/stop and (de)registration only on resources tagged with its groups', () => {
    const p = iamPolicy(config());
    assert.deepEqual(p.Statement.map((s) => s.Sid), ['Read', 'GroupInstances', 'GroupTargetGroups']);
    assert.deepEqual(statement(p, 'GroupInstances')?.Action, ['ec2:StartInstances', 'ec2:StopInstances']);
    assert.deepEqual(statement(p, 'GroupInstances')?.Condition, { StringEquals: { 'aws:ResourceTag/fleetwarden:group-name': ['web', 'api'] } });
    assert.deepEqual(statement(p, 'GroupTargetGroups')?.Action, ['elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:RegisterTargets']);
    assert.ok(actions(p).includes('elasticloadbalancing:DescribeTargetGroupAttributes'), 'the deregistration delay is read');
    assert.deepEqual(actions(p).filter((a) => a.startsWith('ssm:') || a.startsWith('s3:') || a.startsWith('dynamodb:')), []);
  });

  it('a workload selected by envFilterTag: its instances are granted by that tag and value, one statement per tag key', () => {
    const workload = (name: string, key: string, value: string) => ({ name, workload: { envFilterTag: { key, value }, tierTag: 'Role', tiers: [{ name: 'DB', start: { sequence: 0 }, stop: { sequence: 0 } }] } });
    const p = iamPolicy(parseConfig({ provider: 'aws', groups: [{ name: 'web' }, workload('erp', 'Environment', 'ENV001'), workload('crm', 'Environment', 'ENV002'), workload('hr', 'App', 'payroll')] }));
    assert.deepEqual(p.Statement.map((s) => s.Sid), ['Read', 'GroupInstances', 'WorkloadInstances1', 'WorkloadInstances2', 'GroupTargetGroups']);
    assert.deepEqual(statement(p, 'GroupInstances')?.Condition, { StringEquals: { 'aws:ResourceTag/fleetwarden:group-name': ['web', 'erp', 'crm', 'hr'] } });
    assert.deepEqual(statement(p, 'WorkloadInstances1'), { Sid: 'WorkloadInstances1', Effect: 'Allow', Action: ['ec2:StartInstances', 'ec2:StopInstances'], Resource: 'arn:aws:ec2:*:*:instance/*', Condition: { StringEquals: { 'aws:ResourceTag/App': ['payroll'] } } });
    assert.deepEqual(statement(p, 'WorkloadInstances2')?.Condition, { StringEquals: { 'aws:ResourceTag/Environment': ['ENV001', 'ENV002'] } });
  });

  it('no mutating action is ever on *, whatever the configuration — but ssm:CancelCommand, which IAM cannot scope', () => {
    const full = iamPolicy(config({ ssm: { discovery: true }, store: { kind: 'dynamodb', table: 'fw-state' }, aws: { outputBucket: 'ops-logs' } }, { ...EVENTS, ...TASKS }));
    for (const s of full.Statement) {
      if (s.Resource === '*') assert.deepEqual(s.Action.filter((a) => MUTATING.has(a) && a !== 'ssm:CancelCommand'), [], s.Sid);
      assert.ok([s.Resource].flat().every((r) => r === '*' || r.startsWith('arn:aws:')), s.Sid);
    }
    assert.deepEqual([...MUTATING_ON_ANY], ['ssm:CancelCommand'], 'the exception is that one action');
    assert.deepEqual(statement(full, 'CancelCommands'), { Sid: 'CancelCommands', Effect: 'Allow', Action: ['ssm:CancelCommand'], Resource: '*' }, 'in a statement of its own');
    assert.equal(statement(full, 'Read')?.Action.includes('ssm:CancelCommand'), false, 'never among the reads');
    assert.throws(() => iamPolicy(config(), [{ service: 'ec2', operation: 'TerminateInstances', action: 'ec2:TerminateInstances', features: ['fleet'], resource: { kind: 'any' }, mutating: true }]), InvariantError);
    assert.throws(() => iamPolicy(config(), [{ service: 'ssm', operation: 'SendCommand', action: 'ssm:SendCommand', features: ['fleet'], resource: { kind: 'any' }, mutating: true }]), InvariantError, 'the exception does not extend to another SSM action');
  });

  it('events: SendCommand on both documents and the group’s instances, DescribeInstanceInformation and ListCommandInvocations', () => {
    const p = iamPolicy(config({}, EVENTS));
    assert.ok(actions(p).includes('ssm:DescribeInstanceInformation'), 'asked before every SendCommand (it was missing)');
    assert.ok(actions(p).includes('ssm:ListCommandInvocations'));
    assert.deepEqual(statement(p, 'RunCommandDocuments')?.Resource, ['arn:aws:ssm:*::document/AWS-RunPowerShellScript', 'arn:aws:ssm:*::document/AWS-RunShellScript']);
    assert.deepEqual(statement(p, 'GroupInstances')?.Action, ['ec2:StartInstances', 'ec2:StopInstances', 'ssm:SendCommand']);
    assert.equal(actions(p).includes('ssm:GetCommandInvocation'), false, 'never called: not granted');
    // A tier's bypass file needs the same, and so does an event turned on by a schedule only.
    const bypass = iamPolicy(config({}, { workload: { tierTag: 'Role', tiers: [{ name: 'App', start: { sequence: 0 }, stop: { sequence: 0 }, bypassFile: { path: 'C:\\keep', os: 'windows' } }] } }));
    assert.deepEqual(actions(bypass), actions(p));
    const scheduled = iamPolicy(config({}, { schedules: [{ name: 'nights', schedule: 'cron(0 22 * * ? *)', durationHours: 8, set: { 'events.instance-ready-for-shutdown.enabled': true } }] }));
    assert.deepEqual(actions(scheduled), actions(p));
  });

  it('maintenance tasks without events: the shell document, SendCommand, ListCommandInvocations, DescribeInstanceInformation and CancelCommand', () => {
    const p = iamPolicy(config({}, TASKS));
    for (const a of ['ssm:SendCommand', 'ssm:ListCommandInvocations', 'ssm:DescribeInstanceInformation', 'ssm:CancelCommand']) assert.ok(actions(p).includes(a), `${a} (it was missing)`);
    assert.deepEqual(statement(p, 'RunCommandDocuments')?.Resource, ['arn:aws:ssm:*::document/AWS-RunShellScript'], 'no PowerShell document: tasks are shell scripts');
  });

  it('agents pull commands: with eventDelivery agent, no SSM command is granted', () => {
    const p = iamPolicy(config({ controller: { eventDelivery: 'agent' } }, { ...EVENTS, ...TASKS }));
    assert.deepEqual(actions(p).filter((a) => a.startsWith('ssm:')), []);
  });

  it('window discovery, the output bucket (listing included) and the state table', () => {
    const p = iamPolicy(config({ ssm: { discovery: true }, store: { kind: 'dynamodb', table: 'fw-state' }, aws: { outputBucket: 'ops-logs', outputPrefix: 'fw/' } }));
    for (const a of ['ssm:DescribeMaintenanceWindows', 'ssm:ListTagsForResource', 'ssm:GetMaintenanceWindow']) assert.ok(statement(p, 'Read')?.Action.includes(a), a);
    assert.deepEqual(statement(p, 'ListOutputBucket'), { Sid: 'ListOutputBucket', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: 'arn:aws:s3:::ops-logs' });
    assert.deepEqual(statement(p, 'OutputObjects'), { Sid: 'OutputObjects', Effect: 'Allow', Action: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::ops-logs/fw/*' });
    assert.equal(statement(p, 'StateTable')?.Resource, 'arn:aws:dynamodb:*:*:table/fw-state');
    assert.deepEqual(Object.keys(iamPolicy(parseConfig({ preset: 'clonesquad', provider: 'aws', groups: [{ name: 'web' }] })).Statement[1]?.Condition?.['StringEquals'] ?? {}), ['aws:ResourceTag/clonesquad:group-name']);
  });

  it('events to EventBridge: events:PutEvents on the configured bus only (a name in aws.region, or an ARN as given); none without', () => {
    assert.equal(actions(iamPolicy(config())).includes('events:PutEvents'), false);
    assert.deepEqual(statement(iamPolicy(config({ events: { eventBridge: {} } })), 'PublishEvents'), { Sid: 'PublishEvents', Effect: 'Allow', Action: ['events:PutEvents'], Resource: 'arn:aws:events:*:*:event-bus/default' });
    assert.equal(statement(iamPolicy(config({ aws: { region: 'eu-west-1' }, events: { eventBridge: { busName: 'ops' } } })), 'PublishEvents')?.Resource, 'arn:aws:events:eu-west-1:*:event-bus/ops');
    const arn = 'arn:aws:events:us-east-1:210987654321:event-bus/central';
    assert.equal(statement(iamPolicy(config({ events: { eventBridge: { busName: arn } } })), 'PublishEvents')?.Resource, arn);
    assert.equal(actions(iamPolicy(config({ events: { eventBridge: { enabled: false } } }))).includes('events:PutEvents'), false, 'enabled: false');
  });

  it('groups in other accounts: sts:AssumeRole on exactly their roles; --spoke prints a spoke role’s own policy, for its groups only', () => {
    const ERP = 'arn:aws:iam::111111111111:role/FleetwardenSpoke';
    const PAY = 'arn:aws:iam::222222222222:role/FleetwardenSpoke';
    const hub = parseConfig({ provider: 'aws', store: { kind: 'dynamodb', table: 'fw-state' }, events: { eventBridge: {} }, groups: [{ name: 'web' }, { name: 'erp', aws: { region: 'us-west-2', roleArn: ERP, externalId: 'fw-erp-1' } }, { name: 'pay', aws: { roleArn: PAY } }, { name: 'pay2', aws: { roleArn: PAY } }] });
    assert.deepEqual(statement(iamPolicy(hub), 'AssumeSpokeRoles'), { Sid: 'AssumeSpokeRoles', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: [ERP, PAY] });
    assert.equal(actions(iamPolicy(config())).includes('sts:AssumeRole'), false, 'none without a role');
    const spoke = spokePolicy(hub, PAY);
    assert.deepEqual(statement(spoke, 'GroupInstances')?.Condition, { StringEquals: { 'aws:ResourceTag/fleetwarden:group-name': ['pay', 'pay2'] } }, 'only the groups assuming it');
    assert.deepEqual(actions(spoke).filter((a) => /^(sts|dynamodb|events|s3):/.test(a)), [], 'the store, the bus and the roles stay with the hub');
    assert.deepEqual(actions(spoke), actions(iamPolicy(config())), 'the same fleet calls as a one-account controller');
    assert.throws(() => spokePolicy(hub, 'arn:aws:iam::333333333333:role/Other'), (e: unknown) => e instanceof ValidationError && /--spoke: no group assumes .*Other; the configuration's roles: /.test(e.message));
  });

  it('a name that would widen an ARN is refused, naming the field', () => {
    assert.throws(() => iamPolicy(config({ aws: { outputBucket: 'logs*' } })), (e: unknown) => e instanceof ValidationError && /aws\.outputBucket/.test(e.message));
    assert.throws(() => iamPolicy(config({ aws: { outputBucket: 'logs', outputPrefix: 'a/*' } })), (e: unknown) => e instanceof ValidationError && /aws\.outputPrefix: must not contain \* or \?/.test(e.message));
  });

  it('every SDK command an adapter constructs is declared in its table, and nothing declared is unused', () => {
    const sources: [string, AwsCall['service']][] = [
      ['src/providers/aws/ec2.ts', 'ec2'],
      ['src/providers/aws/elbv2.ts', 'elasticloadbalancing'],
      ['src/providers/aws/ssm.ts', 'ssm'],
      ['src/providers/aws/s3.ts', 's3'],
      ['src/store/dynamodb/store.ts', 'dynamodb'],
      ['src/providers/aws/eventbridge.ts', 'events'],
    ];
    for (const [file, service] of sources) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const used = new Set([...text.matchAll(/new (\w+)Command\(/g)].map((m) => m[1] ?? ''));
      used.delete('CreateTable'); // the operator creates the table (docs/aws.md); DynamoStore.createTable is for tests
      const declared = new Set(AWS_CALLS.filter((c) => c.service === service).map((c) => c.operation));
      assert.deepEqual([...used].sort(), [...declared].sort(), file);
    }
  });

  it('maintenance tasks: the documents they run (AWS-owned, the account’s own, an ARN), on the group’s instances, and ssm:CancelCommand', () => {
    const window = (tasks: unknown[]): unknown => ({ name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, tasks });
    const tasks = [
      { name: 'scan', document: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] } },
      { name: 'check', document: 'Perform-Healthcheck', priority: 2 },
      { name: 'shared', document: 'arn:aws:ssm:eu-west-1:111122223333:document/Shared-Audit', priority: 3 },
      { name: 'report', command: 'uptime', priority: 4 },
    ];
    const policy = iamPolicy(parseConfig({ provider: 'aws', groups: [{ name: 'web', maintenance: { windows: [window(tasks)] } }] }));
    assert.deepEqual(statement(policy, 'RunCommandDocuments')?.Resource, ['arn:aws:ssm:*:*:document/Perform-Healthcheck', 'arn:aws:ssm:*::document/AWS-RunPatchBaseline', 'arn:aws:ssm:*::document/AWS-RunShellScript', 'arn:aws:ssm:eu-west-1:111122223333:document/Shared-Audit']);
    assert.deepEqual(statement(policy, 'GroupInstances')?.Condition, { StringEquals: { 'aws:ResourceTag/fleetwarden:group-name': ['web'] } });
    assert.ok(statement(policy, 'GroupInstances')?.Action.includes('ssm:SendCommand'));
    assert.deepEqual(statement(policy, 'CancelCommands')?.Action, ['ssm:CancelCommand']);
    const onlyDocuments = iamPolicy(parseConfig({ provider: 'aws', groups: [{ name: 'web', maintenance: { windows: [window([tasks[0]])] } }] }));
    assert.deepEqual(statement(onlyDocuments, 'RunCommandDocuments')?.Resource, ['arn:aws:ssm:*::document/AWS-RunPatchBaseline'], 'no shell document when no task or health check runs a command');
    assert.equal(iamPolicy(parseConfig({ provider: 'aws', groups: [{ name: 'web' }] })).Statement.some((s) => s.Action.includes('ssm:CancelCommand')), false, 'not without tasks');
    const agent = iamPolicy(parseConfig({ provider: 'aws', controller: { eventDelivery: 'agent' }, groups: [{ name: 'web', maintenance: { windows: [window([{ name: 'report', command: 'uptime' }])] } }] }));
    assert.equal(agent.Statement.some((s) => s.Action.includes('ssm:SendCommand') || s.Action.includes('ssm:CancelCommand')), false, 'the agent runs tasks: no SSM for them');
  });
});
