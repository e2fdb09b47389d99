/**
 * The Fleetwarden deployment as one construct: the table, the output bucket, the scheduler and group-worker
 * functions (src/lambda/), the every-minute schedule, log groups, alarms, and IAM from the same code as
 * `fleetwarden aws iam-policy` (src/app/iam-policy.ts) — the stack and the CLI can never disagree.
 *
 * Env-agnostic: nothing here looks up an account, a region or a context value, so `npm run synth` needs no AWS
 * account and no network.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { iamPolicy } from '../src/app/iam-policy.js';
import type { FleetConfig } from '../src/config/config.js';
import { loadConfigFile } from '../src/config/load.js';
import { ValidationError } from '../src/domain/errors.js';
import { TTL_ATTRIBUTE } from '../src/store/dynamodb/store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DAY_MS = 86_400_000;

export interface FleetwardenProps {
  /** The configuration file, bundled into the functions (provider: aws). Validated at synth. */
  readonly configFile: string;
  /** The bundled handlers (npm run build:lambda) [dist/lambda]. */
  readonly lambdaDir?: string;
  /** The built dashboard (npm run build:ui), served by the API function at / [dist/ui]. */
  readonly uiDir?: string;
  /** At most this many API invocations at once (agents' polls and operators), so the API cannot starve the workers [none]. */
  readonly apiReservedConcurrency?: number;
  /** How long the functions' logs are kept [one month]. */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the table and bucket when the stack is deleted [RETAIN: state and outputs outlive a stack]. */
  readonly removalPolicy?: RemovalPolicy;
  /** Where the alarms notify (alarm and OK) [a topic of the stack's own, output as AlarmTopicArn]. */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The worker role's name, which spoke roles trust (SpokeStackProps.hubRoleName) [fleetwarden-worker]. IAM names are
   * per account: a second hub in the same account (another region) needs another name.
   */
  readonly workerRoleName?: string;
}

/** The hub worker role's name unless told otherwise: the spokes trust this role of the hub account, and only it. */
export const WORKER_ROLE_NAME = 'fleetwarden-worker';

/** A worker role name as given (or the default), checked as IAM checks one: 1-64 of [\w+=,.@-], no path. */
function roleName(field: string, given: string | undefined): string {
  const name = given ?? WORKER_ROLE_NAME;
  if (!/^[\w+=,.@-]{1,64}$/.test(name)) throw new ValidationError(field, `expected an IAM role name (1-64 of letters, digits and +=,.@_-), got ${JSON.stringify(name)}`);
  return name;
}

/** The configuration as deployed: the stack's table and bucket in place of the file's (src/lambda/deployment.ts does the same). */
export function deployedConfig(file: FleetConfig, table: string, bucket: string): FleetConfig {
  return { ...file, store: { kind: 'dynamodb', table }, aws: { ...file.aws, outputBucket: bucket } };
}

/** Names iamPolicy validates as it would a real table and bucket, put in its place before the stack's own. */
export const PLACEHOLDER = { table: 'fleetwarden-deployed-table', bucket: 'fleetwarden-deployed-bucket' } as const;

/**
 * `fleetwarden aws iam-policy` for the deployed configuration: generated for placeholder names (the stack's are only
 * known at deployment), which are then replaced by the stack's table and bucket names.
 */
export function controllerPolicy(file: FleetConfig, table: string, bucket: string): ReturnType<typeof iamPolicy> {
  const text = JSON.stringify(iamPolicy(deployedConfig(file, PLACEHOLDER.table, PLACEHOLDER.bucket)));
  return JSON.parse(text.split(PLACEHOLDER.table).join(table).split(PLACEHOLDER.bucket).join(bucket)) as ReturnType<typeof iamPolicy>;
}

export class Fleetwarden extends Construct {
  readonly table: dynamodb.Table;
  readonly outputBucket: s3.Bucket;
  readonly worker: lambda.Function;
  readonly scheduler: lambda.Function;
  /** The HTTP API and the dashboard, on a function URL (`apiUrl`). */
  readonly api: lambda.Function;
  readonly apiUrl: lambda.FunctionUrl;
  readonly schedule: scheduler.Schedule;
  readonly alarms: readonly cloudwatch.Alarm[];
  /** Told of every alarm's change to ALARM and back to OK. */
  readonly alarmTopic: sns.ITopic;
  readonly workerRole: iam.Role;

  constructor(scope: Construct, id: string, props: FleetwardenProps) {
    super(scope, id);
    const file = loadConfigFile(props.configFile);
    if (file.provider !== 'aws') throw new ValidationError('provider', `is ${file.provider} in ${props.configFile}; the AWS deployment needs provider: aws`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.table = new dynamodb.Table(this, 'State', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // History entries and agent commands carry it (DynamoStore expireAfter): no prune scans in this deployment.
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });

    const prefix = file.aws.outputPrefix ?? 'fleetwarden/';
    this.outputBucket = new s3.Bucket(this, 'Outputs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // controller.outputRetention, by S3 itself instead of the controller's list-and-delete.
      lifecycleRules: [{ id: 'output-retention', prefix, expiration: Duration.days(Math.max(1, Math.ceil(file.controller.outputRetentionMs / DAY_MS))) }],
      removalPolicy,
    });

    const code = lambda.Code.fromAsset(stageCode(props.configFile, props.lambdaDir ?? join(ROOT, 'dist/lambda'), props.uiDir ?? join(ROOT, 'dist/ui')));
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    // The worker's role has a fixed name: a spoke role in another account trusts it by ARN, known before the hub is deployed.
    this.workerRole = new iam.Role(this, 'WorkerRole', {
      roleName: roleName('workerRoleName', props.workerRoleName),
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole')],
    });
    const fn = (name: 'Worker' | 'Scheduler' | 'Api', handler: string, timeout: Duration, environment: Record<string, string>, extra: Partial<lambda.FunctionProps> = {}): lambda.Function =>
      new lambda.Function(this, name, {
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        code,
        handler,
        timeout,
        memorySize: 512,
        environment,
        // Not retried by Lambda, and dropped when not started within a minute (throttled by the account's concurrency;
        // a minute is Lambda's least): the group's next instant fires again, rather than late events piling onto it.
        // A worker also drops an event older than a tick interval itself (src/lambda/worker.ts).
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
        logGroup: new logs.LogGroup(this, `${name}Logs`, { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY }),
        ...extra,
      });
    const env = { FLEETWARDEN_TABLE: this.table.tableName, FLEETWARDEN_OUTPUT_BUCKET: this.outputBucket.bucketName };
    // A worker makes one tick and returns. The scheduler stays its minute, firing each group's ticks at their instants,
    // and stops firing 5 s before its timeout.
    this.worker = fn('Worker', 'worker.handler', Duration.minutes(1), env, { role: this.workerRole });
    this.scheduler = fn('Scheduler', 'scheduler.handler', Duration.seconds(75), { ...env, FLEETWARDEN_WORKER: this.worker.functionName });

    // The worker's permissions: exactly `fleetwarden aws iam-policy` for the deployed configuration.
    this.workerRole.attachInlinePolicy(new iam.Policy(this, 'ControllerPolicy', { document: iam.PolicyDocument.fromJson(controllerPolicy(file, this.table.tableName, this.outputBucket.bucketName)) }));
    // The scheduler reads leases (GetItem) and starts workers; nothing else.
    this.scheduler.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadLeases', actions: ['dynamodb:GetItem'], resources: [this.table.tableArn] }));
    this.worker.grantInvoke(this.scheduler);

    // The API: a long poll is held at most 20 s (src/lambda/api.ts), well inside its timeout. Called synchronously
    // through its URL, so Lambda's async retry settings do not apply to it.
    this.api = fn('Api', 'api.handler', Duration.seconds(30), env, props.apiReservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: props.apiReservedConcurrency });
    this.api.role?.attachInlinePolicy(new iam.Policy(this, 'ApiPolicy', { document: iam.PolicyDocument.fromJson(apiPolicy(file, this.table.tableName, this.outputBucket.bucketName)) }));
    // NONE: agents send their tokens and browsers their session cookie, which SigV4 would leave no room for; every
    // route but /healthz, the dashboard's files and the logins checks a token, a session or an IAM login itself
    // (docs/aws.md#the-api-and-the-dashboard).
    this.apiUrl = this.api.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE, invokeMode: lambda.InvokeMode.BUFFERED });
    new CfnOutput(this, 'ApiUrl', { value: this.apiUrl.url, description: 'The Fleetwarden API and dashboard (fleetwarden --url, the agents’ --url)' });

    this.schedule = new scheduler.Schedule(this, 'EveryMinute', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      target: new targets.LambdaInvoke(this.scheduler, { retryAttempts: 0 }),
      description: 'Fleetwarden: hands each due group to a worker',
    });

    const minutes = (n: number): Duration => Duration.minutes(n);
    this.alarms = [
      new cloudwatch.Alarm(this, 'FailedTicks', {
        alarmDescription: 'A group’s reconcile failed in 5 consecutive minutes (its history says why: fleetwarden history --group)',
        metric: new cloudwatch.Metric({ namespace: 'Fleetwarden', metricName: 'FailedTicks', statistic: 'Sum', period: minutes(1) }),
        threshold: 1,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'WorkerErrors', {
        alarmDescription: 'Worker invocations failed (crashed or timed out) in 3 of 5 minutes',
        metric: this.worker.metricErrors({ period: minutes(1), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'SchedulerErrors', {
        alarmDescription: 'The scheduler failed in 3 of 5 minutes: no group is being reconciled',
        metric: this.scheduler.metricErrors({ period: minutes(1), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    ];
    // An alarm nobody hears is no alarm: every one notifies the topic when it fires and when it clears.
    this.alarmTopic = props.alarmTopic ?? new sns.Topic(this, 'AlarmTopic', { displayName: 'Fleetwarden alarms' });
    const notify = new actions.SnsAction(this.alarmTopic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Subscribe here to hear of Fleetwarden alarms (and their clearing)' });
  }
}

/**
 * The API function's permissions: the table (the same statement as the worker's, from the same generator), reading
 * full task outputs, and reading SSM windows when the configuration discovers them — nothing that acts on the fleet.
 */
export function apiPolicy(file: FleetConfig, table: string, bucket: string): ReturnType<typeof iamPolicy> {
  const full = controllerPolicy(file, table, bucket);
  const statements = full.Statement.flatMap((st) => {
    // ListBucket lets S3 answer a missing output (expired by the lifecycle rule) with 404, not 403.
    if (st.Sid === 'StateTable' || st.Sid === 'ListOutputBucket') return [st];
    if (st.Sid === 'OutputObjects') return [{ ...st, Sid: 'ReadOutputObjects', Action: ['s3:GetObject'] }];
    if (st.Sid === 'Read' && file.ssmDiscovery) {
      const ssm = [st.Action].flat().filter((a) => a.startsWith('ssm:Describe') || a.startsWith('ssm:Get') || a.startsWith('ssm:List'));
      return ssm.length === 0 ? [] : [{ ...st, Sid: 'ReadWindows', Action: ssm }];
    }
    return [];
  });
  return { ...full, Statement: statements };
}

const HANDLERS = ['worker.mjs', 'scheduler.mjs', 'api.mjs'];
const UI_FILES = ['index.html', 'app.js', 'app.css'];

/** The functions' code: the bundled handlers, the dashboard (ui/) and the configuration file beside them (fleetwarden.yaml). */
function stageCode(configFile: string, lambdaDir: string, uiDir: string): string {
  for (const [d, files, field] of [[lambdaDir, HANDLERS, 'lambdaDir'], [uiDir, UI_FILES, 'uiDir']] as const) {
    for (const f of files) if (!existsSync(join(d, f))) throw new ValidationError(field, `${join(d, f)} is missing: run npm run build first`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'fleetwarden-lambda-'));
  mkdirSync(join(dir, 'ui'), { recursive: true });
  for (const f of HANDLERS) copyFileSync(join(lambdaDir, f), join(dir, f));
  for (const f of UI_FILES) copyFileSync(join(uiDir, f), join(dir, 'ui', f));
  copyFileSync(configFile, join(dir, 'fleetwarden.yaml'));
  return dir;
}

export interface FleetwardenStackProps extends FleetwardenProps {
  readonly description?: string;
  /** An existing SNS topic's ARN for the alarms (instead of `alarmTopic`) [a topic of the stack's own]. */
  readonly alarmTopicArn?: string;
}

/** The hub: one Fleetwarden in one account and region. */
export class FleetwardenStack extends Stack {
  readonly fleetwarden: Fleetwarden;
  constructor(scope: Construct, id: string, props: FleetwardenStackProps) {
    super(scope, id, { description: props.description ?? 'Fleetwarden: keeps long-lived EC2 fleets scheduled, patched and drained (issue 12)' });
    const { alarmTopicArn, ...rest } = props;
    this.fleetwarden = new Fleetwarden(this, 'Fleetwarden', alarmTopicArn === undefined ? rest : { ...rest, alarmTopic: sns.Topic.fromTopicArn(this, 'AlarmTopic', alarmTopicArn) });
  }
}

export interface SpokeStackProps {
  readonly configFile: string;
  /** The hub account (where FleetwardenStack runs). */
  readonly hubAccount: string;
  /** The hub worker role's name (FleetwardenProps.workerRoleName): the only principal trusted [fleetwarden-worker]. */
  readonly hubRoleName?: string;
  /** The external ID the hub gives when it assumes the role. */
  readonly externalId: string;
  /** The role's name, the same in every spoke account [fleetwarden-spoke]. */
  readonly roleName?: string;
}

/** Statements that concern the hub's own table and bucket, not the fleet in a spoke account. */
const HUB_ONLY = new Set(['StateTable', 'ListOutputBucket', 'OutputObjects']);

/**
 * A spoke: the role the hub assumes in another account, trusting only the hub's worker role with the external ID, with
 * the fleet part (EC2, ELBv2, SSM) of the same generated policy.
 *
 * The trust names the hub account as principal and the worker role by `aws:PrincipalArn`, rather than the role ARN as
 * principal: IAM turns a role principal into the role's unique id, so a spoke rolled out (StackSets, an Organization)
 * before the hub exists would be refused, and a hub role recreated would be silently locked out. The condition holds
 * by name, whenever the hub is deployed, and no other principal of the hub account can assume the role.
 */
export class FleetwardenSpokeStack extends Stack {
  readonly role: iam.Role;
  constructor(scope: Construct, id: string, props: SpokeStackProps) {
    super(scope, id, { description: 'Fleetwarden spoke: the role the Fleetwarden hub assumes in this account' });
    if (!/^\d{12}$/.test(props.hubAccount)) throw new ValidationError('hubAccount', `expected a 12-digit AWS account id, got ${JSON.stringify(props.hubAccount)}`);
    if (props.externalId.length < 2) throw new ValidationError('externalId', 'must be given (2 characters or more)');
    const hubRoleName = roleName('hubRoleName', props.hubRoleName);
    const file = loadConfigFile(props.configFile);
    const policy = iamPolicy(deployedConfig(file, PLACEHOLDER.table, PLACEHOLDER.bucket));
    this.role = new iam.Role(this, 'SpokeRole', {
      roleName: props.roleName ?? 'fleetwarden-spoke',
      assumedBy: new iam.AccountPrincipal(props.hubAccount).withConditions({ ArnEquals: { 'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${props.hubAccount}:role/${hubRoleName}` } }),
      externalIds: [props.externalId],
      maxSessionDuration: Duration.hours(1),
      inlinePolicies: { fleet: iam.PolicyDocument.fromJson({ ...policy, Statement: policy.Statement.filter((s) => !HUB_ONLY.has(s.Sid)) }) },
    });
  }
}
