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
  // In a configuration of its own (idleConfig): wants none running, so it rests once its instances are adopted.
  idle: ['i-0000000000000003a', 'i-0000000000000003b'],
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
let idleConfig = '';
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
    ['provider: aws', 'aws: { region: eu-west-1 }', 'controller: { tickInterval: 1s, leaseTtl: 10s }', 'groups:', ...['web', 'erp', 'bad'].map((g) => `  - name: ${g}\n    fleets: { main: { desired: 2 } }`)].join('\n') + '\n',
  );
  idleConfig = join(configFile, '..', 'idle.yaml');
  writeFileSync(idleConfig, ['provider: aws', 'aws: { region: eu-west-1 }', 'controller: { tickInterval: 1s, leaseTtl: 10s }', 'groups:', '  - name: idle', '    fleets: { main: { desired: 0 } }'].join('\n') + '\n');
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

interface Opts { budgetMs?: number; spanMs?: number; config?: string }

function invoke(bundle: string, event: unknown, tableName: string, opts: Opts = {}): Run {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: awsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dbEndpoint,
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_REGION: 'eu-west-1',
    FLEETWARDEN_CONFIG: opts.config ?? configFile,
    FLEETWARDEN_TABLE: tableName,
    FLEETWARDEN_WORKER: 'fw-worker',
    FLEETWARDEN_SPAN_MS: String(opts.spanMs ?? 2_500),
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

interface WorkerResult { group: string; ticks: number; skipped: boolean; errors: string[]; stopped: string; restsUntil?: number; remainingMs: number }
interface SchedulerResult { invoked: string[]; fired: number; resting: string[]; busy: string[]; failed: unknown[]; cut: boolean }

async function worker(group: string, tableName: string, opts: Opts & { at?: number } = {}): Promise<WorkerResult> {
  const r = await invoke(WORKER, { group, at: opts.at ?? Date.now() }, tableName, opts).done;
  assert.equal(r.code, 0, r.out);
  return r.result as WorkerResult;
}

async function scheduler(tableName: string, opts: Opts = {}): Promise<SchedulerResult> {
  const r = await invoke(SCHEDULER, { source: 'aws.scheduler' }, tableName, opts).done;
  assert.equal(r.code, 0, r.out);
  return r.result as SchedulerResult;
}

const started = (): string[] => fake.calls('StartInstances').flatMap((r) => Object.entries(r.params).filter(([k]) => k.startsWith('InstanceId.')).map(([, v]) => v));

const fired = (): { group: string; at: number }[] => fake.requests.filter((q) => q.service === 'lambda').map((q) => JSON.parse(q.body) as { group: string; at: number });

describe('Lambda handlers, bundled, as processes', () => {
  it('the scheduler stays its minute and fires each group at its offset + k × tick interval, one worker invocation each', async () => {
    const t = await table();
    fake.requests.length = 0;
    // A 2.5 s "minute" at a 1 s tick interval: each group is fired at offset, offset + 1 s and, if offset < 0.5 s, + 2 s.
    const r = await scheduler(t.name, { spanMs: 2_500 });
    assert.deepEqual(r.invoked, ['bad', 'erp', 'web']);
    const invokes = fake.requests.filter((q) => q.service === 'lambda');
    assert.ok(invokes.every((q) => q.path === '/2015-03-31/functions/fw-worker/invocations'), 'invocations of the worker');
    const payloads = fired();
    assert.equal(payloads.length, r.fired);
    const first = Math.min(...payloads.map((p) => p.at));
    const byGroup = new Map<string, number[]>();
    for (const p of payloads) byGroup.set(p.group, [...(byGroup.get(p.group) ?? []), p.at]);
    assert.deepEqual([...byGroup.keys()].sort(), ['bad', 'erp', 'web']);
    for (const [g, ats] of byGroup) {
      ats.sort((a, b) => a - b);
      assert.ok(ats.length === 2 || ats.length === 3, `${g} fired ${ats.length} times in a 2.5 s span at a 1 s interval`);
      for (let k = 1; k < ats.length; k++) assert.equal((ats[k] as number) - (ats[k - 1] as number), 1_000, `${g}’s ticks are one interval apart`);
      assert.ok((ats[0] as number) - first < 1_000, `${g}’s first tick is within one interval`);
    }
    assert.equal(new Set([...byGroup.values()].map((a) => (a[0] as number) % 1_000)).size, 3, 'the groups are spread, not all at one instant');
    await t.store.close();
  });

  it('a worker invocation makes exactly one tick and returns with most of its time left; a failing group leaves the others converging', async () => {
    const t = await table();
    fake.requests.length = 0;
    const [web, erp, bad] = await Promise.all(['web', 'erp', 'bad'].map((g) => worker(g, t.name, { budgetMs: 60_000 })));
    assert.ok(web && erp && bad);
    assert.deepEqual([web.ticks, erp.ticks, bad.ticks], [1, 1, 1], 'one tick each');
    assert.deepEqual([web.errors, erp.errors, web.stopped], [[], [], 'done']);
    for (const w of [web, erp, bad]) assert.ok(w.remainingMs > 45_000, `returned after its tick, not after a minute (${w.remainingMs} ms of 60 s left)`);
    const listed = fake.calls('DescribeInstances').map((q) => `${q.params['Filter.1.Name'] ?? ''}=${q.params['Filter.1.Value.1'] ?? ''}`);
    assert.deepEqual(listed.sort(), ['tag:fleetwarden:group-name=bad', 'tag:fleetwarden:group-name=erp', 'tag:fleetwarden:group-name=web'], 'each worker lists its own group, once');
    const s = started();
    assert.deepEqual([s.filter((id) => groupOf(id) === 'web').length, s.filter((id) => groupOf(id) === 'erp').length], [2, 2], `web and erp started: ${s.join(' ')}`);
    const records = await t.store.allRecords();
    assert.equal(records.filter((r) => r.group === 'web' && r.state === 'starting').length, 2, 'web’s starts are recorded in the table');
    assert.equal(records.filter((r) => r.group === 'erp' && r.state === 'starting').length, 2);
    const history = await t.store.history({ limit: 500 });
    assert.ok(history.some((h) => h.group === 'bad' && /InternalError/.test(h.summary)), 'bad’s failure is in its history');
    for (const g of ['web', 'erp', 'bad']) assert.equal(await t.store.leaseHolder(g, Date.now()), null, `${g}’s worker let its lease go`);
    await t.store.close();
  });

  it('a worker whose group’s lease is held leaves the group alone; an event later than a tick interval is dropped', async () => {
    const t = await table();
    fake.requests.length = 0;
    const held = await t.store.acquireLease('web', 'lambda:other', Date.now(), 10_000);
    assert.ok(held !== null);
    const w = await worker('web', t.name);
    assert.deepEqual([w.ticks, w.skipped, w.stopped], [0, true, 'lease']);
    assert.deepEqual(started(), [], 'nothing started under another worker’s lease');
    await t.store.releaseLease('web', 'lambda:other');
    const late = await worker('web', t.name, { at: Date.now() - 60_000 });
    assert.deepEqual([late.ticks, late.stopped], [0, 'late']);
    assert.deepEqual(fake.calls('DescribeInstances').length + started().length, 0, 'a late event calls nothing');
    assert.equal((await worker('web', t.name)).ticks, 1, 'the lease let go, the next event ticks');
    await t.store.close();
  });

  it('a dead worker’s lease keeps its group from being fired until the TTL; then the group is due again', async () => {
    const t = await table();
    // Taken 7 s ago and not renewed since (over the 1 s interval and 5 s slack): a dead worker's; expires in 3 s.
    const dead = await t.store.acquireLease('web', 'lambda:dead', Date.now() - 7_000, 10_000);
    assert.ok(dead !== null);
    fake.requests.length = 0;
    const held = await scheduler(t.name, { spanMs: 500 });
    assert.ok(held.busy.includes('web') && !held.invoked.includes('web'), JSON.stringify(held));
    assert.ok(!fired().some((p) => p.group === 'web'), 'no invocation fired at the held group');
    while ((await t.store.leaseHolder('web', Date.now())) !== null) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await scheduler(t.name, { spanMs: 500 })).invoked.includes('web'), 'after the TTL the group is due again');
    assert.equal((await worker('web', t.name)).ticks, 1);
    await t.store.close();
  });

  it('a scheduler with little time left stops firing before its timeout; a worker refuses a group the configuration does not have', async () => {
    const t = await table();
    fake.requests.length = 0;
    const r = await scheduler(t.name, { budgetMs: 9_000, spanMs: 30_000 });
    assert.equal(r.cut, true);
    assert.equal(fired().length, r.fired);
    // Fired only while 5 s of its 9 s were left (less its start): at most the instants of 4 s, not of the 30 s span.
    assert.ok(r.fired >= 1 && r.fired <= 15, JSON.stringify(r));
    const bad = await invoke(WORKER, { group: 'nope' }, t.name).done;
    assert.equal(bad.code, 1);
    assert.match(bad.out, /ERROR ValidationError: group: no group named "nope"/);
    await t.store.close();
  });

  it('a group at rest is not handed out until due; an override or a control set through the store wakes it', async () => {
    const t = await table();
    const opts = { config: idleConfig, spanMs: 500 };
    // Nothing to do (stopped, and none wanted running): the tick records until when the group rests.
    const before = Date.now();
    const rests = await worker('idle', t.name, opts);
    assert.ok(rests.restsUntil !== undefined && rests.restsUntil > before + 60_000, `at rest for a while: ${JSON.stringify(rests)}`);
    // Capped by FLEETWARDEN_REST_MAX_MS (5 minutes): an outside change is noticed within it.
    assert.ok(rests.restsUntil <= Date.now() + 5 * 60_000, JSON.stringify(rests));
    fake.requests.length = 0;
    const quiet = await scheduler(t.name, opts);
    assert.deepEqual([quiet.resting, quiet.invoked, fired().length], [['idle'], [], 0], 'not handed out while at rest');
    await t.store.setOverride({ group: 'idle', key: 'desired', value: 1, expiresAt: Date.now() + 3_600_000, reason: 'test' }, Date.now());
    fake.requests.length = 0;
    const woken = await scheduler(t.name, opts);
    assert.deepEqual([woken.resting, woken.invoked], [[], ['idle']], 'the override woke the group');
    assert.ok(fired().some((p) => p.group === 'idle'));
    // Its next tick at rest again (the override changes nothing for stopped instances here, or acts: either way,
    // whatever it records is under the new wake count) — then a control on one instance wakes it too.
    await t.store.removeOverride('idle', 'desired');
    await worker('idle', t.name, opts);
    const again = await worker('idle', t.name, opts);
    assert.ok(again.restsUntil !== undefined, JSON.stringify(again));
    assert.deepEqual((await scheduler(t.name, opts)).resting, ['idle']);
    await t.store.setControl({ instanceId: 'i-0000000000000003a', kind: 'unstartable', until: Date.now() + 3_600_000, reason: 'test' }, Date.now());
    assert.deepEqual((await scheduler(t.name, opts)).invoked, ['idle'], 'a control (per instance) wakes every group');
    await t.store.close();
  });
});
