import { z } from 'zod';
import { MAX_COUNT } from '../domain/counts.js';
import { formatDuration, quoted } from '../domain/durations.js';
import { DEFAULT_HEALTH_CHECK_TIMEOUT_MS } from './config.js';
import { simulatorSchema } from './simulator-spec.js';
import { SUBFLEET_STATES, WORKLOAD_STATES } from './keys.js';

/**
 * The shape of `fleetwarden.yaml`. Tunable values are typed loosely here (a scalar) and checked by the key registry
 * afterwards, so a value set in the file, a window tag or a run-time override gets the same message.
 */
/**
 * A whole number in [min, max], refused with the range and the value in the message (docs/configuration.md#bounds).
 * `expected` overrides what the message asks for (a count may be a percentage too).
 */
export function wholeNumber(min: number, max: number, expected = `a whole number from ${min} to ${max}`) {
  const error = (issue: { input?: unknown }): string => `expected ${expected}, got ${quoted(issue.input)}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const count = z.union([wholeNumber(0, MAX_COUNT, `N (0 to ${MAX_COUNT}), N% or Np`), z.string()]).describe('N, N% or Np (p means %), e.g. 2, 50% or 50p');
const duration = z.union([z.number().nonnegative(), z.string()]).describe('a duration: 30s, 15m, 1h, 2h30m, or a number of seconds');
const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'expected 1-64 letters, digits, - or _' });
/** EC2 tag keys and values: letters, digits, spaces and + - = . _ : / @ (keys 1-128, values 0-256); `aws:` is AWS's own. */
const tagKey = z
  .string()
  .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u, { error: 'expected an EC2 tag key: 1-128 letters, digits, spaces or + - = . _ : / @' })
  .refine((k) => !k.toLowerCase().startsWith('aws:'), { error: 'tag keys starting with aws: are reserved by AWS' });
const tagValue = z.string().regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u, { error: 'expected an EC2 tag value: up to 256 letters, digits, spaces or + - = . _ : / @' });
/** us-west-2, eu-central-1, us-gov-west-1, cn-north-1, ap-southeast-4 ... */
export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/**
 * S3 bucket names as SSM accepts them for command output: today's rules, and the older ones some buckets still carry
 * (capitals and `_`, as in seed 003's own `myBucketName`). Never a wildcard; the controller's IAM policy never names it.
 */
const s3Bucket = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/, { error: 'expected an S3 bucket name (3-255 letters, digits, . _ -)' });
const s3Prefix = z.string().max(500, { error: 'at most 500 characters (SSM OutputS3KeyPrefix)' }).regex(/^[\p{L}\p{N}!_.'()/-]*$/u, { error: "expected letters, digits and ! - _ . ' ( ) / (S3's safe key characters)" });

const scheduleFields = {
  schedule: z.string().describe('AWS schedule expression: cron(...), rate(...) or at(...)'),
  timezone: z.string().optional().describe('IANA time zone [UTC]'),
  offsetDays: wholeNumber(0, 6).optional().describe('ScheduleOffset, 1-6 days (cron only)'),
  startDate: z.string().optional().describe('ISO-8601: no run before this'),
  endDate: z.string().optional().describe('ISO-8601: no run after this'),
  createdAt: z.string().optional().describe('ISO-8601 creation time: rate anchor, offset creation rule'),
  enabled: z.boolean().optional(),
};

export const windowScopeSchema = z.string().regex(/^(group|main|subfleets|subfleet:[A-Za-z0-9_-]+)$/, { error: 'expected group, main, subfleets or subfleet:<name>' });

const taskSchema = z.strictObject({
  name,
  priority: wholeNumber(0, 1000).optional().describe('lower runs first; equal priorities run together [1]'),
  command: z.string().min(1).optional().describe('the script run on each target by /bin/sh as root (AWS-RunShellScript); exit 194 asks for a reboot and a second run. Give command or document'),
  document: z.string().optional().describe('an SSM document to run instead of command, by name or ARN, e.g. AWS-RunPatchBaseline'),
  parameters: z
    .record(z.string(), z.union([z.string(), z.array(z.string())], { error: 'expected a string or a list of strings (quote numbers and booleans: "1")' }))
    .optional()
    .describe('the document\'s parameters: name -> value or list of values, e.g. { Operation: [Scan] }'),
  outputBucket: z.string().optional().describe('S3 bucket where SSM keeps this task\'s full output [aws.outputBucket]'),
  outputPrefix: z.string().optional().describe('key prefix in that bucket [aws.outputPrefix]'),
  runAfterFailure: z.boolean().optional().describe('also run on instances where an earlier task of the execution failed [false]'),
  targets: z
    .strictObject({
      ids: z.array(z.string()).min(1).optional().describe('instance ids'),
      tags: z.record(z.string(), z.string()).optional().describe('instances carrying every one of these tags'),
      fleets: z.array(z.string()).min(1).optional().describe('main, or subfleet names'),
    })
    .optional()
    .describe('which running instances of the group: by ids, tags or fleets [every running instance the window covers]'),
  maxConcurrency: z.union([z.string(), z.number()]).optional().describe('targets at a time: N or N% [1]'),
  maxErrors: z.union([z.string(), z.number()]).optional().describe('errors allowed before no new target starts: N or N% [0]'),
  timeout: duration.optional().describe('time limit of one run on one target [1h]'),
  cutoffBehavior: z.enum(['continue', 'cancel']).optional().describe('at the window cutoff: let the task go on [continue], or start nothing more and cancel'),
  rerunOnResume: z.boolean().optional().describe('an invocation interrupted by a controller restart may run again [false]'),
  drain: z.boolean().optional().describe('take each batch out of service first and put it back after (seed 004) [false]'),
  capacityFloor: z.union([z.string(), z.number()]).optional().describe('with drain: serving instances never fewer than N or N% of the targets [0]'),
  healthCheck: z
    .strictObject({
      command: z.string().min(1).describe('a script that exits 0 when the instance is fit to serve'),
      timeout: duration.optional().describe(`time limit of one check [${formatDuration(DEFAULT_HEALTH_CHECK_TIMEOUT_MS)}]`),
      within: duration.optional().describe('keep checking this long before the target fails [5m]'),
    })
    .optional()
    .describe('with drain: run after the task, before the target is put back'),
  settle: duration.optional().describe('with drain: after putting a target back, wait this long (and for its target groups to be healthy) [0s]'),
});

const windowSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_.-]{3,128}$/, { error: 'expected 3-128 letters, digits, _, - or . (the SSM naming rule)' }),
  ...scheduleFields,
  durationHours: wholeNumber(1, 24).describe('window length, 1-24 hours'),
  cutoffHours: wholeNumber(0, 23).optional().describe('no task starts in the last C hours'),
  description: z.string().min(1).max(128).optional().describe('what the window is for (SSM: 1-128 characters); shown with its executions'),
  onTaskFailure: z.enum(['abort', 'continue']).optional().describe('a task exceeds its error budget: later priorities do not start and the execution fails [abort], or they run (never on an instance where an earlier task failed, unless the task says runAfterFailure)'),
  fleet: windowScopeSchema.optional().describe('what the window covers: group (default), main, subfleets, or subfleet:<name>'),
  overrides: z.record(z.string(), scalar).optional().describe('settings while the window is active, e.g. fleets.main.min: 50%'),
  disableDefaultConfiguration: z.boolean().optional().describe('drop the default min = desired = 100% overrides'),
  tasks: z.array(taskSchema).optional().describe('run-command tasks Fleetwarden runs in each period of the window'),
});

const scheduleSchema = z.strictObject({
  name,
  ...scheduleFields,
  durationHours: wholeNumber(1, 168).describe('how long the values apply after each start, 1-168 hours'),
  set: z.record(z.string(), scalar).describe('settings applied during each period, e.g. fleets.main.desired: 4'),
});

const tierSchema = z.strictObject({
  name: z.string().min(1).describe('the tier tag value that selects the tier, e.g. DB'),
  start: z.strictObject({
    sequence: wholeNumber(0, 1000).describe('order in the start sequence; lower first, gaps allowed'),
    synchronous: z.boolean().optional().describe('start one instance at a time [false]'),
    readinessTimeout: duration.optional().describe('time the tier may take to become ready [15m]'),
    onTimeout: z.enum(['abort', 'continue']).optional().describe('when readiness times out: stop the sequence [abort] or go on'),
  }),
  stop: z.strictObject({
    sequence: wholeNumber(0, 1000).describe('order in the stop sequence; lower first, gaps allowed'),
    synchronous: z.boolean().optional().describe('stop one instance at a time [false]'),
  }),
  bypassFile: z.strictObject({ path: z.string().min(1), os: z.enum(['linux', 'windows']).optional() }).optional().describe('if this file exists in the guest, the instance is not stopped'),
  ignoreStop: z.boolean().optional().describe('never stop this tier'),
});

const subfleetSchema = z.strictObject({ state: z.enum(SUBFLEET_STATES).optional(), min: count.optional(), desired: count.optional() });

const eventSettings = z.strictObject({ enabled: z.boolean().optional(), timeLimit: duration.optional() });

const groupSchema = z.strictObject({
  name,
  fleets: z
    .strictObject({
      main: z.strictObject({ min: count.optional(), desired: z.union([count, z.null()]).optional() }).optional(),
      subfleets: z.record(name, subfleetSchema).optional(),
      lighthouse: z
        .strictObject({
          tagged: z.boolean().optional().describe('instances tagged <prefix>:lighthouse=true are LightHouse [true]'),
          instanceTypes: z.array(z.string().min(1)).optional().describe('instance-type patterns that are LightHouse, e.g. t3.nano, t4g.*'),
        })
        .optional(),
    })
    .optional(),
  caps: z.strictObject({ startsPerTick: scalar.optional(), drainsPerTick: scalar.optional(), perCall: scalar.optional() }).optional(),
  lifecycle: z
    .strictObject({
      warmUp: duration.optional(),
      initializingTimeout: duration.optional(),
      unuseableGrace: duration.optional(),
      issueGrace: duration.optional(),
      drainMinimum: duration.optional(),
      shutdownTimeout: duration.optional(),
      errorBackoff: duration.optional(),
    })
    .optional(),
  events: z
    .strictObject({
      scriptTimeout: duration.optional().describe('each in-instance script is killed after this [30s]'),
      'enter-maintenance-window-period': eventSettings.optional(),
      'exit-maintenance-window-period': eventSettings.optional(),
      'instance-ready-for-operation': eventSettings.optional(),
      'instance-ready-for-shutdown': eventSettings.optional(),
      'instance-state-change': eventSettings.optional(),
    })
    .optional(),
  agent: z
    .strictObject({
      confirm: z.boolean().optional().describe("maintenance waits for each instance's agent to confirm every drain step [false]"),
      confirmTimeout: duration.optional().describe('a drain step not confirmed within this fails the instance [1m]'),
      pollPeriod: duration.optional().describe("the agents' --api-polling-period [10s]"),
      lbDetection: duration.optional().describe('without a target group: time the load balancer takes to see a changed health answer [10s]'),
    })
    .optional(),
  maintenance: z
    .strictObject({
      startAhead: duration.optional(),
      forceSubfleetsRunning: z.boolean().optional(),
      windows: z.array(windowSchema).optional(),
    })
    .optional(),
  schedules: z.array(scheduleSchema).optional(),
  aws: z
    .strictObject({
      region: z.string().regex(AWS_REGION, { error: 'expected an AWS region such as us-west-2' }).optional().describe('the region the group’s instances are in [aws.region]'),
      roleArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, { error: 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/FleetwardenSpoke' })
        .optional()
        .describe('a role to assume (sts:AssumeRole, session fleetwarden) for the group’s calls: the spoke role of another account [the controller’s own credentials]'),
      // STS: 2-1224 characters of [\w+=,.@:/-] (docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
      externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, { error: 'expected 2-1224 characters of letters, digits and + = , . @ : / - _ (STS ExternalId)' }).optional().describe('the ExternalId the spoke role’s trust policy requires'),
    })
    .optional()
    .describe('where the group lives on AWS (hub and spoke): its region and the account role to assume'),
  workload: z
    .strictObject({
      state: z.enum(WORKLOAD_STATES).optional(),
      killSwitch: z.boolean().optional().describe('true = no start, stop, drain or registration on the workload (seed 003 DisableAllSchedulingActions)'),
      envFilterTag: z
        .strictObject({ key: tagKey, value: tagValue })
        .optional()
        .describe('select the instances by a tag they already carry (seed 003 EnvFilterTagName/EnvFilterTagValue), besides <prefix>:group-name'),
      region: z.string().regex(AWS_REGION, { error: 'expected an AWS region such as us-west-2' }).optional().describe('the AWS region the workload runs in (provider aws) [aws.region]'),
      ssmOutputBucket: s3Bucket.optional().describe('S3 bucket for the output of SSM commands sent to the workload (seed 003 SSMS3BucketName) [aws.outputBucket]'),
      ssmOutputPrefix: s3Prefix.optional().describe('key prefix in ssmOutputBucket (seed 003 SSMS3KeyPrefixName) [fleetwarden/]'),
      tierTag: tagKey.describe('the tag key whose value names an instance tier, e.g. Role'),
      tiers: z.array(tierSchema).min(1),
    })
    .optional(),
});

export const fileSchema = z.strictObject({
  preset: z.enum(['fleetwarden', 'clonesquad']).optional().describe('tag and window naming: fleetwarden (FW-, fleetwarden:) or clonesquad (CS-, clonesquad:)'),
  ssm: z.strictObject({ discovery: z.boolean().optional().describe('discover maintenance windows in SSM by naming convention [false]') }).optional(),
  provider: z.enum(['simulator', 'aws']).optional().describe('where the fleet lives: the built-in simulator [default] or AWS'),
  store: z
    .strictObject({
      kind: z.enum(['sqlite', 'dynamodb']).optional().describe('sqlite [default] or dynamodb'),
      path: z.string().optional().describe('SQLite file [<state dir>/state.db]'),
      table: z.string().regex(/^[a-zA-Z0-9_.-]{3,255}$/, { error: 'expected a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)' }).optional().describe('DynamoDB table (kind: dynamodb)'),
    })
    .optional(),
  aws: z
    .strictObject({
      region: z.string().optional().describe('AWS region [the SDK default chain: AWS_REGION, profile...]'),
      hibernate: z.boolean().optional().describe('stop instances with hibernation [false]'),
      outputBucket: z.string().optional().describe('S3 bucket for full command output'),
      outputPrefix: z.string().optional().describe('key prefix in outputBucket [fleetwarden/]'),
    })
    .optional(),
  controller: z
    .strictObject({
      tickInterval: duration.optional().describe('time between ticks [10s] (simulated time with the simulator)'),
      leaseTtl: duration.optional().describe('a group lease not renewed for this long passes to another controller [30s]'),
      historyRetention: duration.optional().describe('history older than this is pruned [30d]'),
      outputRetention: duration.optional().describe('full outputs of maintenance tasks are removed after this [90d]'),
      owner: z.string().optional().describe('this controller’s name in leases [host:pid]'),
      eventDelivery: z
        .enum(['run-command', 'agent'])
        .optional()
        .describe('how in-instance events and bypass checks reach instances: run-command (SSM Run Command, or the simulator) or agent (pulled by `fleetwarden agent` through the API) [run-command]'),
      agentIam: z
        .strictObject({
          serverId: z.string().regex(/^[\x21-\x7e]{1,200}$/, { error: 'expected 1-200 printable characters without spaces' }).optional().describe('the audience agents sign into their login (X-Fleetwarden-Server-ID); agents send the HOST[:PORT] of their --api-url by default [on a Lambda function URL: its own domain, as AWS gives it; elsewhere required]'),
          accounts: z.array(z.string().regex(/^\d{12}$/, { error: 'expected a 12-digit AWS account id' })).min(1, { error: 'at least one account: a role name alone can be created in any account' }).describe('AWS accounts whose instance roles may log in'),
          roles: z.array(z.string().regex(/^[\w+=,.@-]{1,64}$/, { error: 'expected an IAM role name' })).optional().describe('IAM role names (of instance profiles) that may log in [any role of the accounts]'),
          stsEndpoint: z.string().regex(/^https?:\/\/[^\s/]+\/?$/, { error: 'expected http(s)://HOST[:PORT]' }).optional().describe('an STS endpoint besides AWS’s own (sts[.REGION].amazonaws.com), e.g. a private one; signed requests for it are sent there'),
          tokenTtl: duration.optional().describe('how long the agent token an IAM login grants lasts [1h]'),
        })
        .optional()
        .describe('agents log in with their instance’s IAM role (a signed sts:GetCallerIdentity), no token on the instance'),
      operatorIam: z
        .strictObject({
          serverId: z.string().regex(/^[\x21-\x7e]{1,200}$/, { error: 'expected 1-200 printable characters without spaces' }).optional().describe('the audience operators sign into their login (X-Fleetwarden-Server-ID; the CLI sends the HOST[:PORT] of its --url by default) [on a Lambda function URL: its own domain, as AWS gives it; elsewhere required]'),
          accounts: z.array(z.string().regex(/^\d{12}$/, { error: 'expected a 12-digit AWS account id' })).min(1, { error: 'at least one account: a role name alone can be created in any account' }).describe('AWS accounts whose roles may log in'),
          admins: z.array(z.string().regex(/^[\w+=,.@-]{1,64}$/, { error: 'expected an IAM role name' })).optional().describe('IAM role names whose sessions get an admin token'),
          viewers: z.array(z.string().regex(/^[\w+=,.@-]{1,64}$/, { error: 'expected an IAM role name' })).optional().describe('IAM role names whose sessions get a viewer (read-only) token'),
          stsEndpoint: z.string().regex(/^https?:\/\/[^\s/]+\/?$/, { error: 'expected http(s)://HOST[:PORT]' }).optional().describe('an STS endpoint besides AWS’s own, e.g. a private one'),
          tokenTtl: duration.optional().describe('how long the token an operator’s IAM login grants lasts [1h, at most 12h]'),
        })
        .optional()
        .describe('operators log in with their own IAM role (`fleetwarden --iam`): a signed sts:GetCallerIdentity exchanged for a short-lived admin or viewer token'),
    })
    .optional(),
  events: z
    .strictObject({
      eventBridge: z
        .strictObject({
          enabled: z.boolean().optional().describe('publish to EventBridge [true when this section is given]'),
          busName: z.string().regex(/^[\w./-]{1,256}$|^arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[\w./-]{1,256}$/, { error: 'expected an event bus name (1-256 of a-z A-Z 0-9 . - _ /) or an event bus ARN' }).optional().describe('the event bus (name or ARN) [default]'),
        })
        .optional()
        .describe('publish every transition, refused action and window/maintenance result to EventBridge (source fleetwarden); off unless given'),
      webhook: z
        .strictObject({
          url: z.string().regex(/^https?:\/\/[^\s]+$/, { error: 'expected an http:// or https:// URL' }).describe('where each event is POSTed as JSON'),
          secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'expected an environment variable name' }).optional().describe('environment variable holding the HMAC-SHA256 secret (X-Fleetwarden-Signature); the secret is never in the file'),
          timeout: duration.optional().describe('per request [5s]'),
        })
        .optional()
        .describe('POST every event as JSON to this URL'),
    })
    .optional()
    .describe('events out: where transitions, refused actions and window results are published'),
  simulator: simulatorSchema.optional().describe('the simulated fleet used by provider: simulator'),
  groups: z.array(groupSchema).min(1, { error: 'at least one group is needed' }),
});

export type GroupFile = z.infer<typeof groupSchema>;
export type WindowFile = z.infer<typeof windowSchema>;
export type TaskFile = z.infer<typeof taskSchema>;
export type ScheduleFile = z.infer<typeof scheduleSchema>;

/** JSON Schema of the file, for editors (`fleetwarden config schema`). */
export function jsonSchema(): unknown {
  return { ...z.toJSONSchema(fileSchema, { io: 'input' }), title: 'fleetwarden.yaml' };
}
