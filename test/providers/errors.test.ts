/**
 * AWS error codes → error kinds (providers/aws/errors.ts), one table per service, each code answered on the wire by
 * the local fake and read back through the real SDK client and the adapter's boundary. And the outcome that matters:
 * the reconciler's retry layer retries a throttled call and not a refused one (attempts counted by the fake).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { type ErrorKind, ProviderError } from '../../src/domain/errors.js';
import { VirtualClock } from '../../src/domain/time.js';
import { Ec2Provider } from '../../src/providers/aws/ec2.js';
import { type AwsService, awsCall, mapDynamoDbErrors } from '../../src/providers/aws/errors.js';
import { S3ObjectStore } from '../../src/providers/aws/s3.js';
import { DynamoStore } from '../../src/store/dynamodb/store.js';
import { type ExecutorDeps, withRetry } from '../../src/reconciler/executor.js';
import type { HistoryEntry } from '../../src/ports/index.js';
import { ec2Error, FakeAws } from './fake-aws.js';

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
});
after(() => fake.stop());

const sdk = (): { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string }; maxAttempts: number } => ({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
const ELB_NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const elbError = (code: string, status = 400): { status: number; body: string } => ({ status, body: `<ErrorResponse xmlns="${ELB_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>` });
const jsonError = (type: string, status = 400): { status: number; body: string } => ({ status, body: JSON.stringify({ __type: type, message: 'm' }) });
const s3Error = (code: string, status: number): { status: number; body: string } => ({ status, body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>m</Message><RequestId>r</RequestId></Error>` });

interface Row {
  readonly answer: { status: number; body: string };
  /** The code as the SDK names it (ELBv2's modelled errors gain "Exception"). */
  readonly code: string;
  readonly kind: ErrorKind;
}

/** Answers `call` with each row's error and checks the ProviderError that leaves the boundary. */
async function check(service: AwsService, call: () => Promise<unknown>, rows: readonly Row[]): Promise<void> {
  for (const row of rows) {
    fake.handler = () => row.answer;
    await assert.rejects(call(), (e: unknown) => {
      assert.ok(e instanceof ProviderError, `${row.code}: a ProviderError, got ${String(e)}`);
      assert.deepEqual([e.service, e.code, e.kind], [service, row.code, row.kind], row.code);
      return true;
    });
  }
}

describe('AWS error codes → kinds, per service, through the wire', () => {
  it('EC2', async () => {
    const ec2 = new EC2Client(sdk());
    await check('ec2', () => awsCall('ec2', () => ec2.send(new DescribeInstancesCommand({}))), [
      { answer: ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503), code: 'RequestLimitExceeded', kind: 'retryable' },
      { answer: ec2Error('InsufficientInstanceCapacity', 'no capacity', 500), code: 'InsufficientInstanceCapacity', kind: 'terminal' },
      { answer: ec2Error('IncorrectInstanceState', 'wrong state'), code: 'IncorrectInstanceState', kind: 'conflict' },
      { answer: ec2Error('InvalidInstanceID.NotFound', 'no such instance'), code: 'InvalidInstanceID.NotFound', kind: 'not-found' },
      { answer: ec2Error('UnauthorizedOperation', 'not authorized', 403), code: 'UnauthorizedOperation', kind: 'terminal' },
      { answer: ec2Error('Unavailable', 'try later', 503), code: 'Unavailable', kind: 'retryable' },
      { answer: ec2Error('SomethingNew', 'an unknown client error'), code: 'SomethingNew', kind: 'terminal' },
    ]);
  });

  it('SSM', async () => {
    const ssm = new SSMClient(sdk());
    await check('ssm', () => awsCall('ssm', () => ssm.send(new ListCommandInvocationsCommand({ CommandId: 'c' }))), [
      { answer: jsonError('ThrottlingException'), code: 'ThrottlingException', kind: 'retryable' },
      { answer: jsonError('InvalidInstanceId'), code: 'InvalidInstanceId', kind: 'not-found' },
      { answer: jsonError('InvocationDoesNotExist'), code: 'InvocationDoesNotExist', kind: 'not-found' },
      { answer: jsonError('AccessDeniedException'), code: 'AccessDeniedException', kind: 'terminal' },
      { answer: jsonError('InternalServerError', 500), code: 'InternalServerError', kind: 'retryable' },
    ]);
  });

  it('ELBv2', async () => {
    const elb = new ElasticLoadBalancingV2Client(sdk());
    await check('elasticloadbalancing', () => awsCall('elasticloadbalancing', () => elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: 'arn:tg' }))), [
      { answer: elbError('Throttling'), code: 'Throttling', kind: 'retryable' },
      { answer: elbError('TargetGroupNotFound'), code: 'TargetGroupNotFoundException', kind: 'not-found' },
      { answer: elbError('InvalidTarget'), code: 'InvalidTargetException', kind: 'invalid-input' },
      { answer: elbError('AccessDenied', 403), code: 'AccessDenied', kind: 'terminal' },
    ]);
  });

  it('DynamoDB (the store client as the composition root builds it)', async () => {
    const db = mapDynamoDbErrors(new DynamoDBClient(sdk()));
    await check('dynamodb', () => db.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } })), [
      { answer: jsonError('com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException'), code: 'ProvisionedThroughputExceededException', kind: 'retryable' },
      { answer: jsonError('com.amazonaws.dynamodb.v20120810#ThrottlingException'), code: 'ThrottlingException', kind: 'retryable' },
      { answer: jsonError('com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException'), code: 'ConditionalCheckFailedException', kind: 'conflict' },
      { answer: jsonError('com.amazonaws.dynamodb.v20120810#ResourceNotFoundException'), code: 'ResourceNotFoundException', kind: 'not-found' },
      { answer: jsonError('com.amazonaws.dynamodb.v20120810#AccessDeniedException'), code: 'AccessDeniedException', kind: 'terminal' },
    ]);
  });

  it('DynamoDB: the store still tells a refused conditional write from a failure when its client maps errors', async () => {
    const store = new DynamoStore({ table: 't', client: mapDynamoDbErrors(new DynamoDBClient(sdk())) });
    fake.handler = () => jsonError('com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException');
    assert.equal(await store.acquireLease('web', 'me', 1_000, 30_000), null, 'another controller holds the lease: no lease, no error');
    fake.handler = () => jsonError('com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException');
    await assert.rejects(store.acquireLease('web', 'me', 1_000, 30_000), (e: unknown) => e instanceof ProviderError && e.kind === 'retryable');
  });

  it('S3', async () => {
    const s3 = new S3Client({ ...sdk(), forcePathStyle: true });
    await check('s3', () => awsCall('s3', () => s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))), [
      { answer: s3Error('SlowDown', 503), code: 'SlowDown', kind: 'retryable' },
      { answer: s3Error('NoSuchKey', 404), code: 'NoSuchKey', kind: 'not-found' },
      { answer: s3Error('AccessDenied', 403), code: 'AccessDenied', kind: 'terminal' },
      { answer: s3Error('NoSuchBucket', 404), code: 'NoSuchBucket', kind: 'invalid-input' },
    ]);
    // The ObjectStore reads a missing object as null, and does not hide a missing bucket.
    const objects = new S3ObjectStore({ bucket: 'b', client: s3 });
    fake.handler = () => s3Error('NoSuchKey', 404);
    assert.equal(await objects.get('executions/x'), null);
    fake.handler = () => s3Error('NoSuchBucket', 404);
    await assert.rejects(objects.get('executions/x'), (e: unknown) => e instanceof ProviderError && e.code === 'NoSuchBucket');
  });
});

describe('the retry layer decides on the kind', () => {
  const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
  // Built when the test runs: the fake's endpoint is known only then.
  const deps = (): ExecutorDeps & { provider: Ec2Provider } => ({
    provider: new Ec2Provider({ client: new EC2Client(sdk()), clock }),
    lb: {} as never,
    runner: {} as never,
    sleep: (ms: number) => Promise.resolve(clock.set(clock.now() + ms)),
    random: () => 0.5,
    now: () => clock.now(),
    retry: { attempts: 4, baseMs: 100, maxMs: 1_000 },
  });

  it('a throttled call is retried until the attempts run out; an access-denied one is sent once', async () => {
    const d = deps();
    const history: HistoryEntry[] = [];
    fake.handler = () => ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);
    fake.requests.length = 0;
    await assert.rejects(withRetry(d, 'list instances', '*', history, () => d.provider.listInstances(['k'])), (e: unknown) => e instanceof ProviderError && e.kind === 'retryable');
    assert.equal(fake.calls('DescribeInstances').length, 4, 'every attempt of the policy reached EC2 (the SDK adds none)');
    assert.equal(history.filter((h) => h.type === 'retry').length, 3);

    fake.handler = () => ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
    fake.requests.length = 0;
    await assert.rejects(withRetry(d, 'list instances', '*', [], () => d.provider.listInstances(['k'])), (e: unknown) => e instanceof ProviderError && e.kind === 'terminal');
    assert.equal(fake.calls('DescribeInstances').length, 1, 'not retried: asking again is refused the same way');
  });
});
