/** The CDK app's template (aws-cdk-lib/assertions), synthesized offline: every resource, and IAM = `aws iam-policy`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FleetwardenSpokeStack, FleetwardenStack } from '../../infra/fleetwarden.js';
import { AWS_CALLS, MUTATING_ON_ANY } from '../../src/app/iam-policy.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/aws-lambda.yaml');
const BIN = join(ROOT, 'dist/src/cli/main.js');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'fw-cdk-')) });
const stack = new FleetwardenStack(app, 'Fleetwarden', { configFile: EXAMPLE });
const template = Template.fromStack(stack);
const resources = template.toJSON()['Resources'] as Record<string, { Type: string; Properties: Record<string, Json> }>;
const idOf = (type: string, prefix: string): string => Object.keys(resources).find((k) => resources[k]?.Type === type && k.startsWith(prefix)) ?? assert.fail(`no ${type} ${prefix}`);
const TABLE = idOf('AWS::DynamoDB::Table', 'FleetwardenState');
const BUCKET = idOf('AWS::S3::Bucket', 'FleetwardenOutputs');

/** The template's names back into plain strings: the table's and bucket's Refs become the names given. */
function plain(v: Json, names: Record<string, string>): Json {
  if (Array.isArray(v)) return v.map((x) => plain(x, names));
  if (v !== null && typeof v === 'object') {
    const ref = v['Ref'];
    if (typeof ref === 'string' && names[ref] !== undefined) return names[ref];
    const join = v['Fn::Join'];
    if (Array.isArray(join) && join[0] === '' && Array.isArray(join[1])) return join[1].map((x) => { const p = plain(x, names); return typeof p === 'string' ? p : JSON.stringify(p); }).join('');
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x, names)]));
  }
  return v;
}

describe('CDK app (infra/)', () => {
  it('the table: on demand, point-in-time recovery, the TTL attribute the store writes, kept when the stack goes', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('the output bucket: encrypted, no public access, SSL only, outputs expired by controller.outputRetention', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90, Prefix: 'fleetwarden/', Status: 'Enabled' })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('three arm64 Node 22 functions from the bundles, with log groups kept a month, a schedule at rate(1 minute), and alarms', () => {
    for (const handler of ['worker.handler', 'scheduler.handler', 'api.handler']) {
      template.hasResourceProperties('AWS::Lambda::Function', { Handler: handler, Runtime: 'nodejs22.x', Architectures: ['arm64'], Environment: { Variables: Match.objectLike({ FLEETWARDEN_TABLE: { Ref: TABLE }, FLEETWARDEN_OUTPUT_BUCKET: { Ref: BUCKET } }) } });
    }
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'scheduler.handler', Environment: { Variables: Match.objectLike({ FLEETWARDEN_WORKER: { Ref: idOf('AWS::Lambda::Function', 'FleetwardenWorker') } }) } });
    // A worker is one tick; the scheduler stays its minute firing the ticks, and a little longer to return.
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'worker.handler', Timeout: 60 });
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'scheduler.handler', Timeout: 75 });
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 3);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', 'FleetwardenScheduler'), 'Arn'] } }) });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'Fleetwarden', MetricName: 'FailedTicks', Threshold: 1 });
    // A worker is neither retried nor started late: the next minute's scheduler hands its group out again.
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: idOf('AWS::Lambda::Function', 'FleetwardenWorker') }, MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    // The bundled code has the configuration beside the handlers.
    const asset = join(app.outdir, (resources[idOf('AWS::Lambda::Function', 'FleetwardenWorker')]?.Properties['Code'] as { S3Key: string }).S3Key.replace(/\.zip$/, '').replace(/^/, 'asset.'));
    assert.equal(readFileSync(join(asset, 'fleetwarden.yaml'), 'utf8'), readFileSync(EXAMPLE, 'utf8'));
  });

  it('the API and dashboard on a function URL (auth NONE: tokens, sessions and IAM logins are checked by the API), with the dashboard in its code, and a role that cannot act on the fleet', () => {
    const api = idOf('AWS::Lambda::Function', 'FleetwardenApi');
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', InvokeMode: 'BUFFERED', TargetFunctionArn: { 'Fn::GetAtt': [api, 'Arn'] } });
    // Public (NONE) needs the resource policy that lets anyone invoke through the URL, and only through it.
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunctionUrl', FunctionName: { 'Fn::GetAtt': [api, 'Arn'] }, Principal: '*', FunctionUrlAuthType: 'NONE' });
    const outputs = template.toJSON()['Outputs'] as Record<string, { Value: Json }>;
    assert.ok(Object.entries(outputs).some(([k, o]) => k.includes('ApiUrl') && JSON.stringify(o.Value).includes('FunctionUrl')), 'the URL is a stack output');
    assert.equal(resources[api]?.Properties['Timeout'], 30, 'long polls are held 20 s at most, inside the timeout');
    const policy = JSON.stringify(resources[idOf('AWS::IAM::Policy', 'FleetwardenApiPolicy')]?.Properties['PolicyDocument']);
    assert.match(policy, /dynamodb:PutItem/);
    assert.match(policy, /s3:GetObject/);
    assert.match(policy, /s3:ListBucket/, 'so an expired output is a 404, not a 403 turned 500');
    assert.doesNotMatch(policy, /ec2:|elasticloadbalancing:|ssm:SendCommand|s3:PutObject|s3:DeleteObject/, 'the API cannot act on the fleet or the outputs');
    const asset = join(app.outdir, (resources[api].Properties['Code'] as { S3Key: string }).S3Key.replace(/\.zip$/, '').replace(/^/, 'asset.'));
    for (const f of ['api.mjs', 'ui/index.html', 'ui/app.js', 'ui/app.css']) assert.ok(existsSync(join(asset, f)), `${f} is in the function's code`);
  });

  it('the worker’s policy is exactly `fleetwarden aws iam-policy` for the deployed configuration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-iam-'));
    const file = join(dir, 'deployed.yaml');
    // The configuration as deployed: the stack's table and bucket (their names here stand for the stack's).
    writeFileSync(file, readFileSync(EXAMPLE, 'utf8').replace('provider: aws\n', 'provider: aws\nstore: { kind: dynamodb, table: fw-state }\naws: { outputBucket: fw-outputs }\n'));
    const cli = spawnSync(process.execPath, [BIN, 'aws', 'iam-policy', '--config', file], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    const expected = JSON.parse(cli.stdout) as Json;
    const policy = resources[idOf('AWS::IAM::Policy', 'FleetwardenControllerPolicy')]?.Properties['PolicyDocument'] ?? null;
    // IAM reads ["a"] as "a"; CDK writes the one-element lists so.
    const one = (doc: Json): Json => JSON.parse(JSON.stringify(doc, (k, v: unknown) => ((k === 'Action' || k === 'Resource') && Array.isArray(v) && v.length === 1 ? (v[0] as Json) : v))) as Json;
    assert.deepEqual(one(plain(policy, { [TABLE]: 'fw-state', [BUCKET]: 'fw-outputs' })), one(expected));
    assert.ok(JSON.stringify(expected).includes('dynamodb:PutItem') && JSON.stringify(expected).includes('arn:aws:s3:::fw-outputs'), 'the policy covers the table and the bucket');
  });

  it('no IAM statement in the stack allows a mutating action on every resource (but ssm:CancelCommand, which IAM cannot narrow)', () => {
    const mutating = new Map(AWS_CALLS.map((c) => [c.action, c.mutating]));
    const offending: string[] = [];
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::Role') continue;
      const docs = r.Type === 'AWS::IAM::Policy' ? [r.Properties['PolicyDocument']] : ((r.Properties['Policies'] ?? []) as { PolicyDocument: Json }[]).map((p) => p.PolicyDocument);
      for (const doc of docs) {
        for (const s of ((doc as { Statement?: { Action: string | string[]; Resource: Json }[] } | null)?.Statement ?? [])) {
          const wildcard = s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*'));
          if (!wildcard) continue;
          for (const a of [s.Action].flat()) if (mutating.get(a) !== false && !MUTATING_ON_ANY.has(a)) offending.push(`${id}: ${a} on *`);
        }
      }
    }
    assert.deepEqual(offending, []);
    // The scheduler may only read leases and start the worker.
    template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': [TABLE, 'Arn'] } })]) }, Roles: [{ Ref: idOf('AWS::IAM::Role', 'FleetwardenSchedulerServiceRole') }] });
  });

  it('every alarm notifies an SNS topic when it fires and when it clears: the stack’s own (its ARN an output), or one given', () => {
    const topic = { Ref: idOf('AWS::SNS::Topic', 'FleetwardenAlarmTopic') };
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: [topic], OKActions: [topic] }, 3);
    template.hasOutput('*', { Value: topic });
    const given = 'arn:aws:sns:eu-west-1:123456789012:ops-pager';
    const other = Template.fromStack(new FleetwardenStack(new App({ outdir: mkdtempSync(join(tmpdir(), 'fw-cdk-')) }), 'Given', { configFile: EXAMPLE, alarmTopicArn: given }));
    other.resourceCountIs('AWS::SNS::Topic', 0);
    other.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: [given], OKActions: [given] }, 3);
    other.hasOutput('*', { Value: given });
  });

  it('the hub worker role has the fixed name the spokes trust; the Lambda worker runs as it', () => {
    const role = idOf('AWS::IAM::Role', 'FleetwardenWorkerRole');
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'fleetwarden-worker', AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] } });
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'worker.handler', Role: { 'Fn::GetAtt': [role, 'Arn'] } });
    template.hasResourceProperties('AWS::IAM::Policy', { PolicyName: Match.stringLikeRegexp('ControllerPolicy'), Roles: [{ Ref: role }] });
    assert.throws(() => new FleetwardenStack(new App(), 'BadName', { configFile: EXAMPLE, workerRoleName: 'no spaces' }), /workerRoleName: expected an IAM role name/);
  });

  it('the spoke role trusts only the hub’s worker role (by aws:PrincipalArn) with the external ID, and carries the fleet part of the same policy', () => {
    const spokeApp = new App({ outdir: mkdtempSync(join(tmpdir(), 'fw-cdk-')) });
    const spoke = Template.fromStack(new FleetwardenSpokeStack(spokeApp, 'Spoke', { configFile: EXAMPLE, hubAccount: '123456789012', externalId: 'fw-ext-1' }));
    const trust = (name: string): Record<string, unknown> => ({
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': 'fw-ext-1' }, ArnEquals: { 'aws:PrincipalArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::123456789012:role/${name}`]] } } },
          Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] } },
        },
      ],
      Version: '2012-10-17',
    });
    // Exactly one statement: no other principal of the hub account, and no statement without the external ID.
    spoke.hasResourceProperties('AWS::IAM::Role', { RoleName: 'fleetwarden-spoke', AssumeRolePolicyDocument: trust('fleetwarden-worker') });
    const renamed = Template.fromStack(new FleetwardenSpokeStack(new App({ outdir: mkdtempSync(join(tmpdir(), 'fw-cdk-')) }), 'Renamed', { configFile: EXAMPLE, hubAccount: '123456789012', externalId: 'fw-ext-1', hubRoleName: 'fleetwarden-worker-us' }));
    renamed.hasResourceProperties('AWS::IAM::Role', { AssumeRolePolicyDocument: trust('fleetwarden-worker-us') });
    assert.throws(() => new FleetwardenSpokeStack(spokeApp, 'BadRole', { configFile: EXAMPLE, hubAccount: '123456789012', externalId: 'x1', hubRoleName: 'role/x' }), /hubRoleName: expected an IAM role name/);
    const text = JSON.stringify(spoke.toJSON());
    assert.match(text, /ec2:StartInstances/);
    assert.doesNotMatch(text, /dynamodb:|s3:PutObject/, 'the hub’s table and bucket are not the spoke’s');
    assert.throws(() => new FleetwardenSpokeStack(spokeApp, 'Bad', { configFile: EXAMPLE, hubAccount: '12345', externalId: 'x1' }), /hubAccount: expected a 12-digit AWS account id/);
  });

  it('refuses a configuration that is not for AWS, naming the field, and `node dist/infra/app.js` exits 2 with no stack trace', () => {
    assert.throws(() => new FleetwardenStack(new App(), 'Sim', { configFile: join(ROOT, 'examples/demo.yaml') }), /provider: is simulator/);
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/infra/app.js')], { encoding: 'utf8', env: { ...process.env, CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'fw-cdk-')), CDK_CONTEXT_JSON: JSON.stringify({ config: join(ROOT, 'examples/demo.yaml') }) } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^fleetwarden synth: provider: is simulator/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
