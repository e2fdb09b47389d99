/**
 * The bundled Lambda handlers (dist/lambda/*.mjs) as real processes, against dynalite (the table) and the AWS wire
 * fakes (EC2, ELBv2, SSM, and Lambda's Invoke, captured): fan-out, workers reconciling, one worker per group by
 * the lease, a killed worker taken over after the lease's TTL, a failing group leaving the others converging.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { DynamoStore } from '../../src/store/dynamodb/store.js';
import { ec2Error, FakeAws, type FakeRequest } from '../providers/fake-aws.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HARNESS = join(ROOT, 'dist/test/lambda/invoke.js');
const SCHEDULER = join(ROOT, 'dist/lambda/scheduler.mjs');
const WORKER = join(ROOT, 'dist/lambda/worker.mjs');
const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

/** The fleet: three stopped instances per group; bad's starts are refused (InternalError, every time). */
const FLEET: Record<string, string[]> = {
  web: ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'],
  erp: ['i-0000000000000001a', 'i-0000000000000001b', 'i-0000000000000001c'],
  bad: ['i-0000000000000002a', 'i-0000000000000002b', 'i-0000000000000002c'],
};
const groupOf = (id: string): string => Object.entries(FLEET).find(([, ids]) => ids.includes(id))?.[0] ?? '';

function answer(r: FakeRequest): { status?: number; body: string } {
  if (r.service === 'lambda') return { status: 202, body: '' };
  switch (r.action) {
    case 'DescribeInstances': {
      // Filtered as EC2 does: a `tag:fleetwarden:group-name` filter names the groups listed.
      const only = r.params['Filter.1.Name'] === 'tag:fleetwarden:group-name' ? Object.entries(r.params).filter(([k]) => k.startsWith('Filter.1.Value.')).map(([, v]) => v) : null;
      const items = Object.entries(FLEET).filter(([g]) => only === null || only.includes(g)).flatMap(([g, ids]) => ids.map((id) => `<item><instanceId>${id}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>eu-west-1a</availabilityZone></placement><instanceState><code>80</code><name>stopped</name></instanceState><tagSet><item><key>fleetwarden:group-name</key><value>${g}</value></item></tagSet></item>`));
      return { body: `<DescribeInstancesResponse xmlns="${EC2}"><reservationSet><item><instancesSet>${items.join('')}</instancesSet></item></reservationSet></DescribeInstancesResponse>` };
    }
    case 'StartInstances': {
      const ids = Object.entries(r.params).filter(([k]) => k.startsWith('InstanceId.')).map(([, v]) => v);
      if (ids.some((id) => groupOf(id) === 'bad')) return ec2Error('InternalError', 'the service is failing', 500);
      return { body: `<StartInstancesResponse xmlns="${EC2}"><instancesSet></instancesSet></StartInstancesResponse>` };
    }
    case 'DescribeTargetGroups':
      return { body: `<DescribeTargetGroupsResponse xmlns="${ELB}"><DescribeTargetGroupsResult><TargetGroups></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>` };
    default:
      return { status: 400, body: `<Response><Errors><Error><Code>InvalidAction</Code><Message>${r.action}</Message></Error></Errors></Response>` };
  }
}

const fake = new FakeAws();
let db: ReturnType<typeof dynalite> | undefined;
let awsEndpoint = '';
let dbEndpoint = '';
let configFile = '';
let tables = 0;

before(async () => {
  awsEndpoint = await fake.start();
  fake.handler = answer;
  db = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => db?.listen(0, '127.0.0.1', () => resolve()));
  dbEndpoint = `http://127.0.0.1:${(db.address() as AddressInfo).port}`;
  configFile = join(mkdtempSync(join(tmpdir(), 'fw-lambda-')), 'fleetwarden.yaml');
  writeFileSync(
    configFile,
    ['provider: aws', 'aws: { region: eu-west-1 }', 'controller: { tickInterval: 1s, leaseTtl: 10s }', 'groups:', ...Object.keys(FLEET).map((g) => `  - name: ${g}\n    fleets: { main: { desired: 2 } }`)].join('\n') + '\n',
  );
});
after(() => {
  fake.stop();
  db?.close();
});

function dynamo(): DynamoDBClient {
  return new DynamoDBClient({ endpoint: dbEndpoint, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

/** A table of its own for each test (the stack creates it in a deployment). */
async function table(): Promise<{ name: string; store: DynamoStore }> {
  const name = `fw-lambda-${++tables}`;
  await DynamoStore.createTable(dynamo(), name);
  return { name, store: new DynamoStore({ table: name, client: dynamo() }) };
}

interface Run {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number | null; result: unknown; out: string }>;
}

function invoke(bundle: string, event: unknown, tableName: string, opts: { budgetMs?: number; spanMs?: number } = {}): Run {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: awsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dbEndpoint,
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_REGION: 'eu-west-1',
    FLEETWARDEN_CONFIG: configFile,
    FLEETWARDEN_TABLE: tableName,
    FLEETWARDEN_WORKER: 'fw-worker',
    FLEETWARDEN_WORKER_SPAN_MS: String(opts.spanMs ?? 2_500),
  };
  const child = spawn(process.execPath, [HARNESS, bundle, JSON.stringify(event), String(opts.budgetMs ?? 60_000)], { env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<{ code: number | null; result: unknown; out: string }>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = /^RESULT (.*)$/m.exec(out)?.[1];
      resolve({ code, result: line === undefined ? undefined : JSON.parse(line), out });
    }),
  );
  return { child, done };
}

interface WorkerResult { group: string; ticks: number; skipped: boolean; errors: string[]; stopped: string }
interface SchedulerResult { invoked: string[]; busy: string[]; failed: unknown[] }

async function worker(group: string, tableName: string, opts: { budgetMs?: number; spanMs?: number } = {}): Promise<WorkerResult> {
  const r = await invoke(WORKER, { group, offsetMs: 0 }, tableName, opts).done;
  assert.equal(r.code, 0, r.out);
  return r.result as WorkerResult;
}

async function scheduler(tableName: string): Promise<SchedulerResult> {
  const r = await invoke(SCHEDULER, { source: 'aws.scheduler' }, tableName).done;
  assert.equal(r.code, 0, r.out);
  return r.result as SchedulerResult;
}

const started = (): string[] => fake.calls('StartInstances').flatMap((r) => Object.entries(r.params).filter(([k]) => k.startsWith('InstanceId.')).map(([, v]) => v));

describe('Lambda handlers, bundled, as processes', () => {
  it('the scheduler fans out one asynchronous worker invocation per due group, each spread within the tick interval', async () => {
    const t = await table();
    fake.requests.length = 0;
    const r = await scheduler(t.name);
    assert.deepEqual(r.invoked, ['bad', 'erp', 'web']);
    const invokes = fake.requests.filter((q) => q.service === 'lambda');
    assert.deepEqual(invokes.map((q) => q.path), Array(3).fill('/2015-03-31/functions/fw-worker/invocations'));
    const payloads = invokes.map((q) => JSON.parse(q.body) as { group: string; offsetMs: number });
    assert.deepEqual(payloads.map((p) => p.group).sort(), ['bad', 'erp', 'web']);
    for (const p of payloads) assert.ok(p.offsetMs >= 0 && p.offsetMs < 1_000, `offset ${p.offsetMs} within the 1 s tick interval`);
    assert.equal(new Set(payloads.map((p) => p.offsetMs)).size, 3, 'the groups are spread, not all at one instant');
    await t.store.close();
  });

  it('workers reconcile their groups at the tick interval; a failing group leaves the others converging', async () => {
    const t = await table();
    fake.requests.length = 0;
    const [web, erp, bad] = await Promise.all(['web', 'erp', 'bad'].map((g) => worker(g, t.name)));
    assert.ok(web && erp && bad);
    assert.ok(web.ticks >= 2, `several ticks within one invocation (${web.ticks})`);
    assert.deepEqual([web.errors, erp.errors, web.stopped], [[], [], 'span']);
    const listed = fake.calls('DescribeInstances').map((q) => `${q.params['Filter.1.Name'] ?? ''}=${q.params['Filter.1.Value.1'] ?? ''}`);
    assert.deepEqual([...new Set(listed)].sort(), ['tag:fleetwarden:group-name=bad', 'tag:fleetwarden:group-name=erp', 'tag:fleetwarden:group-name=web'], 'each worker lists its own group only');
    const s = started();
    assert.equal(s.filter((id) => groupOf(id) === 'web').length >= 2 && s.filter((id) => groupOf(id) === 'erp').length >= 2, true, `web and erp started: ${s.join(' ')}`);
    const records = await t.store.allRecords();
    assert.equal(records.filter((r) => r.group === 'web' && r.state === 'starting').length, 2, 'web’s starts are recorded in the table');
    assert.equal(records.filter((r) => r.group === 'erp' && r.state === 'starting').length, 2);
    const history = await t.store.history({ limit: 500 });
    assert.ok(history.some((h) => h.group === 'bad' && /InternalError/.test(h.summary)), 'bad’s failure is in its history');
    for (const g of ['web', 'erp', 'bad']) assert.equal(await t.store.leaseHolder(g, Date.now()), null, `${g}’s worker let its lease go`);
    await t.store.close();
  });

  it('a worker started while the last minute’s worker finishes its tick waits for the lease, then ticks', async () => {
    const t = await table();
    const first = invoke(WORKER, { group: 'web', offsetMs: 0 }, t.name, { spanMs: 1_500 });
    while ((await t.store.leaseHolder('web', Date.now())) === null) await new Promise((r) => setTimeout(r, 50));
    const second = await worker('web', t.name, { spanMs: 1_000 });
    const done = await first.done;
    assert.ok((done.result as WorkerResult).ticks >= 1, done.out);
    assert.ok(second.ticks >= 1, `the second worker ticked after the first let go: ${JSON.stringify(second)}`);
    await t.store.close();
  });

  it('two workers on one group: exactly one acts', async () => {
    const t = await table();
    const both = await Promise.all([worker('web', t.name), worker('web', t.name)]);
    assert.deepEqual(both.map((w) => w.ticks > 0).sort(), [false, true], JSON.stringify(both));
    assert.equal(both.find((w) => w.ticks === 0)?.stopped, 'lease');
    await t.store.close();
  });

  it('a worker killed mid-invocation keeps its group until the lease’s TTL; then the next worker takes it over', async () => {
    const t = await table();
    const long = invoke(WORKER, { group: 'web', offsetMs: 0 }, t.name, { spanMs: 30_000 });
    while ((await t.store.leaseHolder('web', Date.now())) === null) await new Promise((r) => setTimeout(r, 50));
    long.child.kill('SIGKILL');
    await long.done;
    const dead = await t.store.leaseHolder('web', Date.now());
    assert.ok(dead !== null);
    // Renewed within a tick interval: maybe a live worker finishing, so the group is still handed out; the worker
    // waits a tick interval for the lease, and leaves the group alone.
    assert.ok((await scheduler(t.name)).invoked.includes('web'));
    assert.equal((await worker('web', t.name)).stopped, 'lease', 'a worker leaves the held group alone');
    // Not renewed for longer than a tick interval and the slack (5 s), not yet expired (10 s): taken for dead.
    await new Promise((r) => setTimeout(r, dead.expiresAt - 10_000 + 6_500 - Date.now()));
    const held = await scheduler(t.name);
    assert.ok(held.busy.includes('web') && !held.invoked.includes('web'), 'the dead worker’s lease still holds the group');
    while ((await t.store.leaseHolder('web', Date.now())) !== null) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await scheduler(t.name)).invoked.includes('web'), 'after the TTL the group is due again');
    const next = await worker('web', t.name);
    assert.ok(next.ticks > 0, JSON.stringify(next));
    await t.store.close();
  });

  it('a worker with little time left stops between ticks, and refuses a group the configuration does not have', async () => {
    const t = await table();
    const short = await worker('web', t.name, { budgetMs: 6_500, spanMs: 30_000 });
    assert.equal(short.stopped, 'time');
    assert.ok(short.ticks >= 1 && short.ticks <= 2, JSON.stringify(short));
    const r = await invoke(WORKER, { group: 'nope' }, t.name).done;
    assert.equal(r.code, 1);
    assert.match(r.out, /ERROR ValidationError: group: no group named "nope"/);
    await t.store.close();
  });
});
