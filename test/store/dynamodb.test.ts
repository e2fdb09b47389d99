import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { statusView } from '../../src/api/services.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type AttributeValue, BatchWriteItemCommand, DynamoDBClient, GetItemCommand, QueryCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GroupFence } from '../../src/reconciler/fence.js';
import { LeaseLostError } from '../../src/domain/errors.js';
import dynalite from 'dynalite';
import { DynamoStore, TTL_ATTRIBUTE } from '../../src/store/dynamodb/store.js';
import type { Lease } from '../../src/ports/index.js';
import type { WindowExecution } from '../../src/maintenance/model.js';
import { storeContract } from './contract.js';
import { runCli } from '../providers/fake-aws.js';

let server: ReturnType<typeof dynalite> | undefined;
let endpoint = '';
let n = 0;

function client(): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

/** A client of a controller killed between writing a tick's items and committing them: the commit never arrives. */
function killedBeforeCommit(): DynamoDBClient {
  const dying = client();
  const send = dying.send.bind(dying);
  dying.send = ((command: Parameters<typeof send>[0]) => {
    if (command instanceof UpdateItemCommand && String(command.input.UpdateExpression).startsWith('SET v = :next')) throw new Error('killed');
    return send(command);
  }) as typeof dying.send;
  return dying;
}

/**
 * A client whose requests go through `hook` once the SDK has signed them and the store's fence has passed, each attempt
 * on its own: `send` sends this attempt on (or `hook` answers it itself, or holds it).
 */
function hooked(hook: (operation: string, send: () => Promise<unknown>) => Promise<unknown>): DynamoDBClient {
  const c = client();
  const handler = c.config.requestHandler as unknown as { handle: (request: { headers: Record<string, string | undefined> }, options?: unknown) => Promise<unknown> };
  const handle = handler.handle.bind(handler);
  handler.handle = (request, options) => hook((request.headers['x-amz-target'] ?? '').replace(/^.*\./, ''), () => handle(request, options));
  return c;
}

/** An answer of DynamoDB's that the SDK retries. */
const internalError = (): Promise<unknown> => Promise.resolve({
  response: { statusCode: 500, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': 'InternalServerError' }, body: Buffer.from('{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}') },
});

/**
 * A client whose requests of one kind (a matching UpdateItem, or BatchWriteItem puts) fail on the caller's side but are
 * kept, to land later (`late()`): a timeout after the request left, a container frozen and thawed.
 */
function landsLate(matches: (command: unknown) => boolean): { client: DynamoDBClient; late: () => Promise<unknown> } {
  const c = client();
  const send = c.send.bind(c);
  let kept: (() => Promise<unknown>) | undefined;
  c.send = ((command: Parameters<typeof send>[0]) => {
    if (kept === undefined && matches(command)) {
      kept = () => send(command);
      return Promise.reject(Object.assign(new Error('socket timeout'), { name: 'TimeoutError' }));
    }
    return send(command);
  }) as typeof c.send;
  return { client: c, late: () => (kept ?? (() => Promise.reject(new Error('nothing kept'))))() };
}

const updateStarting = (prefix: string) => (command: unknown): boolean => command instanceof UpdateItemCommand && String(command.input.UpdateExpression).startsWith(prefix);

/** A client on which the request kept by `late` lands just before the first command of `kind`; `landed()`: how it went. */
function landingBefore(kind: typeof QueryCommand | typeof BatchWriteItemCommand, late: () => Promise<unknown>): { client: DynamoDBClient; landed: () => unknown } {
  const c = client();
  const send = c.send.bind(c);
  let landed: unknown;
  c.send = (async (command: Parameters<typeof send>[0]) => {
    if (landed === undefined && command instanceof kind) landed = await late().then(() => 'landed', (e: unknown) => String(e));
    return send(command);
  }) as typeof c.send;
  return { client: c, landed: () => landed };
}

const recOf = (id: string, state: 'running' | 'draining') => ({ instanceId: id, group: 'web', state, since: 1, reason: 'r' }) as const;

/** A fresh table whose group web holds i-1 running, written by controller a under its lease. */
async function oneRecord(): Promise<{ s: DynamoStore; table: string; lease: Lease }> {
  const s = await fresh();
  const lease = await s.acquireLease('web', 'a', 0, 30_000);
  assert.ok(lease);
  await s.saveTick({ ...emptyTick, at: 0, lease, records: [recOf('i-1', 'running')] });
  return { s, table: `fleetwarden-test-${n}`, lease };
}

/** `count` problems of instances with one bad tag, ~160 bytes each. */
const badTags = (count: number) => Array.from({ length: count }, (_, i) => ({ source: 'instance' as const, subject: `i-${i}`, field: 'fleetwarden:subfleet-name', value: 'bad!', reason: 'not a subfleet name; instance left alone until fixed', since: 1 }));

/** A tick of group web writing nothing but what a case adds. */
const emptyTick = { group: 'web', at: 1, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] };

/** A window execution of `count` finished invocations, each with `output` (over 400 KB in all when output is long). */
function bigExecution(count: number, runs: number, output: string): WindowExecution {
  const T0 = Date.parse('2026-06-01T00:00:00Z');
  return {
    id: 'web/FW/big', group: 'web', window: 'FW', start: T0, end: T0 + 3_600_000, lastTaskStart: T0 + 3_600_000, status: 'IN_PROGRESS', startedAt: T0,
    tasks: [{ name: 'patch', priority: 1, status: 'IN_PROGRESS', targets: [], terminated: [], detail: '',
      invocations: Array.from({ length: count }, (_, i) => ({ target: `i-${i}`, status: 'SUCCESS' as const, phase: 'done' as const, phaseSince: T0, startedAt: T0, runs, outOfService: false, detail: 'exit 0', output })) }],
  };
}

async function fresh(): Promise<DynamoStore> {
  const table = `fleetwarden-test-${++n}`;
  await DynamoStore.createTable(client(), table);
  return new DynamoStore({ table, client: client() });
}

before(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server?.close();
});

storeContract('DynamoDB (dynalite)', fresh);

describe('DynamoDB store specifics', () => {
  it('a tick that died before committing leaves nothing visible, not even when its retry commits the same version', async () => {
    const s = await fresh();
    const rec = (state: 'running' | 'draining') => ({ instanceId: 'i-1', group: 'web', state, since: 1, reason: 'r' }) as const;
    const tick = { group: 'web', at: 1, transitions: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] };
    await fixtureSave(s, { ...tick, records: [rec('running')], history: [] });
    // Simulate a crash after the record items of version 2 were written but before HEAD moved: write them directly.
    const raw = client();
    const { PutItemCommand } = await import('@aws-sdk/client-dynamodb');
    const table = `fleetwarden-test-${n}`;
    await raw.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'G#web' }, sk: { S: 'R#i-1#000000000002' }, id: { S: 'i-1' }, v: { N: '2' }, body: { S: JSON.stringify(rec('draining')) } } }));
    const orphan = { at: 1, group: 'web', instanceId: 'i-1', type: 'transition', summary: 'uncommitted' };
    await raw.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'G#web' }, sk: { S: 'PH#000000000002#000000' }, v: { N: '2' }, entry: { S: JSON.stringify(orphan) } } }));
    assert.equal((await s.loadGroup('web')).records.get('i-1')?.state, 'running', 'the uncommitted version is invisible');
    assert.deepEqual((await s.history({ limit: 10 })).map((h) => h.summary), [], 'and so is its history');
    await fixtureSave(s, { ...tick, records: [rec('draining')], history: [{ at: 2, group: 'web', instanceId: 'i-1', type: 'transition', summary: 'committed' }] });
    assert.equal((await s.loadGroup('web')).records.get('i-1')?.state, 'draining');
    assert.deepEqual((await s.history({ limit: 10 })).map((h) => h.summary), ['committed'], 'the dead attempt’s history never surfaces, though the retry committed the same version');
    raw.destroy();
    await s.close();
  });

  it('history of a committed tick whose move was interrupted by a crash is recovered by the next tick', async () => {
    const s = await fresh();
    const tick = { group: 'web', at: 1, records: [], transitions: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] };
    await fixtureSave(s, { ...tick, history: [] }); // version 1 committed
    const raw = client();
    const { PutItemCommand } = await import('@aws-sdk/client-dynamodb');
    const stranded = { at: 1, group: 'web', instanceId: null, type: 'window', summary: 'committed but not yet moved' };
    await raw.send(new PutItemCommand({ TableName: `fleetwarden-test-${n}`, Item: { pk: { S: 'G#web' }, sk: { S: 'PH#000000000001#000000' }, v: { N: '1' }, entry: { S: JSON.stringify(stranded) } } }));
    await fixtureSave(s, { ...tick, history: [{ at: 2, group: 'web', instanceId: null, type: 'window', summary: 'next tick' }] });
    assert.deepEqual((await s.history({ limit: 10 })).map((h) => h.summary), ['next tick', 'committed but not yet moved']);
    raw.destroy();
    await s.close();
  });

  it('a stored item that does not decode is an error naming its key, attribute and field', async () => {
    const s = await fresh();
    const table = `fleetwarden-test-${n}`;
    await fixtureSave(s, { group: 'web', at: 1, records: [{ instanceId: 'i-1', group: 'web', state: 'running', since: 1, reason: 'r' }], transitions: [], history: [], newHandles: [{ id: 'h-1', kind: 'event', group: 'web', instanceIds: ['i-1'], sentAt: 1 }], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    const raw = client();
    const { GetItemCommand, PutItemCommand } = await import('@aws-sdk/client-dynamodb');
    const put = async (Item: Record<string, { S: string } | { N: string }>) => raw.send(new PutItemCommand({ TableName: table, Item }));
    await put({ pk: { S: 'G#web' }, sk: { S: 'R#i-1#000000000001' }, id: { S: 'i-1' }, v: { N: '1' }, body: { S: JSON.stringify({ instanceId: 'i-1', group: 'web', state: 'running', since: 'yesterday', reason: 'r' }) } });
    await assert.rejects(s.loadGroup('web'), { name: 'StoredDataError', message: /^stored data item \(G#web, R#i-1#000000000001\) body\.since: .*expected number, received string/ });
    await assert.rejects(s.allRecords(), /item \(G#web, R#i-1#000000000001\) body\.since/);
    await put({ pk: { S: 'G#web' }, sk: { S: 'R#i-1#000000000001' }, id: { S: 'i-1' }, v: { N: '1' }, body: { S: JSON.stringify({ instanceId: 'i-1', group: 'web', state: 'running', since: 1, reason: 'r' }) } });
    const head = (await raw.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'G#web' }, sk: { S: 'HEAD' } } }))).Item!;
    await raw.send(new PutItemCommand({ TableName: table, Item: { ...head, handles: { S: JSON.stringify([{ id: 'h-1', kind: 'telepathy', group: 'web', instanceIds: ['i-1'], sentAt: 1 }]) } } }));
    await assert.rejects(s.loadGroup('web'), /^StoredDataError: stored data item \(G#web, HEAD\) handles\[0\]\.kind: /);
    await put({ pk: { S: 'H' }, sk: { S: '000000000007' }, at: { N: '1' }, grp: { S: 'web' }, type: { S: 'gossip' }, summary: { S: 's' } });
    await assert.rejects(s.history({ limit: 10 }), /stored data item \(H, 000000000007\)\.type: /);
    await put({ pk: { S: 'A#i-1' }, sk: { S: 'c-1' }, sent: { N: '1' }, body: { S: '{not json' } });
    await assert.rejects(s.agentCommands({ instanceId: 'i-1' }), /stored data item \(A#i-1, c-1\) body: not JSON/);
    raw.destroy();
    await s.close();
  });

  it('an execution over 400 KB is written in parts: the older version’s parts go once the next commits; a lost part is an error naming the item', async () => {
    const s = await fresh();
    const table = `fleetwarden-test-${n}`;
    const T0 = Date.parse('2026-06-01T00:00:00Z');
    // Multi-byte output: parts are cut by bytes, so a character may straddle two of them.
    const big = (runs: number): WindowExecution => bigExecution(600, runs, 'Überprüfung ✓ 🔧 '.repeat(150));
    const tick = { group: 'web', at: T0, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] };
    const { DeleteItemCommand, QueryCommand } = await import('@aws-sdk/client-dynamodb');
    const raw = client();
    const items = async (): Promise<string[]> => {
      const keys: string[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const r = await raw.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p AND begins_with(sk, :x)', ExpressionAttributeValues: { ':p': { S: 'G#web' }, ':x': { S: 'X#' } }, ProjectionExpression: 'sk', ExclusiveStartKey: start }));
        keys.push(...(r.Items ?? []).map((i) => i['sk']?.S ?? ''));
        start = r.LastEvaluatedKey;
      } while (start !== undefined);
      return keys;
    };
    await fixtureSave(s, { ...tick, executions: [big(1)] });
    const first = await items();
    assert.ok(first.length > 3, `written in parts: ${first.join(', ')}`);
    assert.deepEqual(await s.execution('web/FW/big'), big(1));
    await fixtureSave(s, { ...tick, executions: [big(2)] });
    const second = await items();
    assert.equal(second.length, first.length);
    assert.ok(second.every((sk) => sk.startsWith('X#web/FW/big#000000000002')), `only version 2 is left: ${second.join(', ')}`);
    assert.deepEqual((await s.loadGroup('web')).executions, [big(2)]);
    await raw.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'G#web' }, sk: { S: second.at(-1) ?? '' } } }));
    await assert.rejects(s.execution('web/FW/big'), new RegExp(`item \\(G#web, X#web/FW/big#000000000002\\) parts: ${first.length - 1} parts, 1 missing \\(${first.length - 2}\\)`));
    raw.destroy();
    await s.close();
  });

  it('a write killed before its commit leaves nothing for the next commit to surface: a record, an execution and its parts', async () => {
    const s = await fresh();
    const table = `fleetwarden-test-${n}`;
    const rec = (id: string, state: 'running' | 'draining') => ({ instanceId: id, group: 'web', state, since: 1, reason: 'r' }) as const;
    const big = bigExecution(400, 1, 'x'.repeat(2500));
    const tick = { group: 'web', at: 1, transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] };
    await fixtureSave(s, { ...tick, records: [rec('i-1', 'running'), rec('i-2', 'running')] });
    // The same controller, killed between writing its items and committing them: the commit never reaches the table.
    const dying = killedBeforeCommit();
    await assert.rejects(fixtureSave(new DynamoStore({ table, client: dying }), { ...tick, records: [rec('i-2', 'draining')], executions: [big] }), /killed/);
    // Restarted, it decides otherwise: the dead version 2 is skipped, and this write commits version 3.
    await fixtureSave(s, { ...tick, records: [rec('i-1', 'draining')] });
    const raw = client();
    const head = (await raw.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'G#web' }, sk: { S: 'HEAD' } } }))).Item;
    assert.deepEqual([head?.['v']?.N, JSON.parse(head?.['skip']?.S ?? '[]')], ['3', [{ v: 2, at: 1 }]]);
    raw.destroy();
    const g = await s.loadGroup('web');
    assert.deepEqual([...g.records.values()].map((r) => [r.instanceId, r.state]), [['i-1', 'draining'], ['i-2', 'running']], 'the dead write of i-2 never surfaces');
    assert.deepEqual(g.executions, [], 'nor its execution');
    assert.equal(await s.execution('web/FW/big'), null);
    dying.destroy();
  });

  it('a writer stalled past its lease: its late items never surface, its version is skipped for good, and they are deleted an hour on', async () => {
    const s = await fresh();
    const table = `fleetwarden-test-${n}`;
    const rec = (id: string, state: 'running' | 'draining') => ({ instanceId: id, group: 'web', state, since: 1, reason: 'r' }) as const;
    const entry = (at: number, summary: string) => ({ at, group: 'web', instanceId: null, type: 'window' as const, summary });
    const leaseA = await s.acquireLease('web', 'a', 0, 30_000);
    assert.ok(leaseA);
    await s.saveTick({ ...emptyTick, at: 0, lease: leaseA, records: [rec('i-1', 'running'), rec('i-2', 'running')] });
    // A's batch of items is held (throttled retries, a paused process) after it marked its write begun, and after its
    // fence passed: the request is on its way.
    let release: () => void = () => undefined;
    let stalled: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const hit = new Promise<void>((r) => (stalled = r));
    const slow = hooked(async (operation, send) => {
      if (operation === 'BatchWriteItem') {
        stalled();
        await gate;
      }
      return send();
    });
    const fenceA = new GroupFence(s, { now: () => 10_000 }, 30_000, leaseA);
    const a = new DynamoStore({ table, client: slow }).saveTick({ ...emptyTick, at: 10_000, lease: leaseA, fence: () => fenceA.check(), records: [rec('i-2', 'draining')], history: [entry(10_000, 'from a')] });
    await hit;
    // A's lease runs out; B takes the group over and commits a tick that touches i-1 only.
    const leaseB = await s.acquireLease('web', 'b', 40_000, 30_000);
    assert.ok(leaseB);
    await s.saveTick({ ...emptyTick, at: 40_000, lease: leaseB, records: [rec('i-1', 'draining')], history: [entry(40_000, 'from b')] });
    // A wakes up: its items land, its commit is refused.
    release();
    await assert.rejects(a, /lease|another controller/);
    const raw = client();
    const keys = async (): Promise<string[]> => ((await raw.send(new ScanCommand({ TableName: table, ProjectionExpression: 'sk' }))).Items ?? []).map((i) => i['sk']?.S ?? '');
    assert.ok((await keys()).includes('R#i-2#000000000002'), 'A’s late item is in the table');
    const g = await s.loadGroup('web');
    assert.deepEqual([...g.records.values()].map((r) => [r.instanceId, r.state]), [['i-1', 'draining'], ['i-2', 'running']], 'and never seen');
    assert.deepEqual((await s.allRecords()).map((r) => [r.instanceId, r.state]), [['i-1', 'draining'], ['i-2', 'running']]);
    await s.saveTick({ ...emptyTick, at: 50_000, lease: leaseB });
    assert.deepEqual((await s.history({ limit: 10 })).map((h) => h.summary), ['from b'], 'nor its history');
    // Until an hour after B found the version unfinished, a write of it could still land: its items stay, unseen.
    await s.saveTick({ ...emptyTick, at: 40_000 + 3_599_000, lease: leaseB });
    assert.ok((await keys()).includes('R#i-2#000000000002'));
    assert.deepEqual((await s.loadGroup('web')).records.get('i-2')?.state, 'running');
    // Then none can: its items go, and the mark (expired marks are swept together, up to 10 minutes on).
    await s.saveTick({ ...emptyTick, at: 40_000 + 3_600_000 + 600_000, lease: leaseB });
    assert.deepEqual((await keys()).filter((k) => k.endsWith('#000000000002') || k.startsWith('PH#')), []);
    const head = (await raw.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'G#web' }, sk: { S: 'HEAD' } } }))).Item;
    assert.equal(head?.['skip'], undefined);
    assert.deepEqual([...(await s.loadGroup('web')).records.values()].map((r) => [r.instanceId, r.state]), [['i-1', 'draining'], ['i-2', 'running']]);
    slow.destroy();
    raw.destroy();
  });

  it('a writer whose lease is lost in the middle of its items sends no more of them: the fence is checked on each attempt of each request', async () => {
    const s = await fresh();
    const table = `fleetwarden-test-${n}`;
    const lease = await s.acquireLease('web', 'a', 0, 30_000);
    assert.ok(lease);
    let now = 1_000;
    const fence = new GroupFence(s, { now: () => now }, 30_000, lease);
    let batches = 0;
    const lossy = hooked(async (operation, send) => {
      // The second batch's first attempt, already past the fence, fails; meanwhile the controller stalled past its
      // lease and another one took the group. The SDK's retry of it must not go out.
      if (operation === 'BatchWriteItem' && ++batches === 2) {
        now = 40_000;
        assert.ok(await s.acquireLease('web', 'b', now, 30_000));
        return internalError();
      }
      return send();
    });
    const records = Array.from({ length: 60 }, (_, i) => ({ instanceId: `i-${i}`, group: 'web', state: 'running' as const, since: 1, reason: 'r' }));
    await assert.rejects(new DynamoStore({ table, client: lossy }).saveTick({ ...emptyTick, at: now, lease: fence.token, fence: () => fence.check(), records }), LeaseLostError);
    const raw = client();
    const written = ((await raw.send(new ScanCommand({ TableName: table, ProjectionExpression: 'sk' }))).Items ?? []).filter((i) => i['sk']?.S?.startsWith('R#'));
    assert.equal(written.length, 25, 'the first batch only: 60 records are three');
    assert.equal(batches, 2, 'no retry went out');
    lossy.destroy();
    raw.destroy();
  });

  /** Tick 1 of controller a: i-1 draining, with its history; its commit leaves, and its caller gives up on it. */
  async function commitLeftBehind(table: string, lease: Lease): Promise<() => Promise<unknown>> {
    const t1 = landsLate(updateStarting('SET v = :next'));
    await assert.rejects(new DynamoStore({ table, client: t1.client }).saveTick({ ...emptyTick, at: 1_000, lease, records: [recOf('i-1', 'draining')], history: [{ at: 1_000, group: 'web', instanceId: null, type: 'window', summary: 'tick 1' }] }), /socket timeout/);
    return t1.late;
  }

  it('an earlier attempt’s commit landing late, after the next attempt began, is refused: it never commits a version listed as skipped', async () => {
    const { s, table, lease } = await oneRecord();
    // Tick 2 (same controller) finds version 2 unfinished and begins 3; then tick 1's commit lands.
    const t2 = landingBefore(BatchWriteItemCommand, await commitLeftBehind(table, lease));
    await new DynamoStore({ table, client: t2.client }).saveTick({ ...emptyTick, at: 2_000, lease, records: [recOf('i-2', 'running')] });
    assert.match(String(t2.landed()), /ConditionalCheckFailed/, 'the late commit is refused');
    const g = await s.loadGroup('web');
    assert.deepEqual([...g.records.values()].map((r) => [r.instanceId, r.state]), [['i-1', 'running'], ['i-2', 'running']], 'tick 2 committed; nothing of tick 1');
    assert.deepEqual(await s.history({ limit: 5 }), []);
    t2.client.destroy();
  });

  it('an earlier attempt’s commit landing while the next tick reads the group: that tick is refused, and the commit keeps its history', async () => {
    const { s, table, lease } = await oneRecord();
    // Tick 2 has read HEAD (version 1, version 2 begun); tick 1's commit lands before tick 2 looks at pending history.
    const t2 = landingBefore(QueryCommand, await commitLeftBehind(table, lease));
    await assert.rejects(new DynamoStore({ table, client: t2.client }).saveTick({ ...emptyTick, at: 2_000, lease, records: [recOf('i-2', 'running')] }), /another controller meanwhile/);
    assert.equal(t2.landed(), 'landed');
    await s.saveTick({ ...emptyTick, at: 3_000, lease });
    assert.deepEqual([...(await s.loadGroup('web')).records.values()].map((r) => [r.instanceId, r.state]), [['i-1', 'draining']]);
    assert.deepEqual((await s.history({ limit: 5 })).map((h) => h.summary), ['tick 1'], 'its pending history was not taken for a dead attempt’s');
    t2.client.destroy();
  });

  it('an earlier attempt’s begin landing late cannot move the write begun back, nor drop a skipped version', async () => {
    const { s, table, lease } = await oneRecord();
    // Tick 1's begin leaves, and its caller gives up on it; tick 2 begins version 2, writes i-1 draining, is killed.
    const t1 = landsLate(updateStarting('SET writing'));
    await assert.rejects(new DynamoStore({ table, client: t1.client }).saveTick({ ...emptyTick, at: 1_000, lease }), /socket timeout/);
    const dying = killedBeforeCommit();
    await assert.rejects(new DynamoStore({ table, client: dying }).saveTick({ ...emptyTick, at: 2_000, lease, records: [recOf('i-1', 'draining')] }), /killed/);
    // Tick 3 skips version 2 and begins 3; tick 1's begin lands before tick 3's commit.
    const t3 = landingBefore(BatchWriteItemCommand, t1.late);
    await new DynamoStore({ table, client: t3.client }).saveTick({ ...emptyTick, at: 3_000, lease, records: [recOf('i-2', 'running')] });
    assert.match(String(t3.landed()), /ConditionalCheckFailed/, 'the late begin is refused');
    assert.deepEqual((await s.allRecords()).map((r) => [r.instanceId, r.state]), [['i-1', 'running'], ['i-2', 'running']], 'the dead version 2 stays unseen');
    for (const c of [t1.client, dying, t3.client]) c.destroy();
  });

  it('a group state over HEAD_STATE_BYTES lives in the item of its version: the last one only, none once small again or after a dead write', async () => {
    const s = await fresh();
    const table = `fleetwarden-test-${n}`;
    const problems = badTags;
    const tick = emptyTick;
    const raw = client();
    const { QueryCommand } = await import('@aws-sdk/client-dynamodb');
    const stateKeys = async (): Promise<string[]> => ((await raw.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)', ExpressionAttributeValues: { ':p': { S: 'G#web' }, ':s': { S: 'S#' } }, ProjectionExpression: 'sk' }))).Items ?? []).map((i) => i['sk']?.S ?? '');
    await fixtureSave(s, { ...tick, problems: problems(1500) });
    assert.deepEqual(await stateKeys(), ['S#000000000001']);
    await fixtureSave(s, { ...tick, problems: problems(1501) });
    assert.deepEqual(await stateKeys(), ['S#000000000002'], 'the older state item goes once the newer one is committed');
    assert.equal((await s.problems('web')).length, 1501);
    // A dead write of a big state: its item stays until the next write finds the write unfinished.
    const dying = killedBeforeCommit();
    await assert.rejects(fixtureSave(new DynamoStore({ table, client: dying }), { ...tick, problems: problems(3000) }), /killed/);
    assert.deepEqual(await stateKeys(), ['S#000000000002', 'S#000000000003', 'S#000000000003#0000', 'S#000000000003#0001'], 'in parts');
    assert.equal((await s.problems('web')).length, 1501, 'the dead write is not seen');
    await fixtureSave(s, { ...tick, problems: problems(3) });
    assert.deepEqual(await stateKeys(), [], 'small again: on HEAD, no state item left');
    assert.deepEqual(await s.problems('web'), problems(3));
    dying.destroy();
    raw.destroy();
  });

  it('a group state item deleted under a reader by a commit between its two reads: the reader reads HEAD again; a HEAD committed without stateAt is read as such', async () => {
    const s = await fresh();
    const table = `fleetwarden-test-${n}`;
    const problems = badTags;
    const tick = emptyTick;
    await fixtureSave(s, { ...tick, problems: problems(1500) });
    const { QueryCommand, UpdateItemCommand: Update } = await import('@aws-sdk/client-dynamodb');
    const readerClient = client();
    const send = readerClient.send.bind(readerClient);
    let raced = false;
    readerClient.send = (async (command: Parameters<typeof send>[0]) => {
      // Between the reader's read of HEAD and its read of the state item HEAD names, a tick commits the next version.
      if (!raced && command instanceof QueryCommand && JSON.stringify(command.input.ExpressionAttributeValues).includes('S#000000000001')) {
        raced = true;
        await fixtureSave(s, { ...tick, problems: problems(1501) });
      }
      return send(command);
    }) as typeof readerClient.send;
    assert.equal((await new DynamoStore({ table, client: readerClient }).problems('web')).length, 1501);
    assert.ok(raced, 'the commit came between the two reads');
    // A controller of a version that keeps the state on HEAD alone commits version 3 without touching stateAt (2).
    const raw = client();
    await raw.send(new Update({ TableName: table, Key: { pk: { S: 'G#web' }, sk: { S: 'HEAD' } }, UpdateExpression: 'SET v = :v, problems = :p, handles = :h, failures = :f, windows = :w', ExpressionAttributeValues: { ':v': { N: '3' }, ':p': { S: JSON.stringify(problems(2)) }, ':h': { S: '[]' }, ':f': { S: '[]' }, ':w': { S: '[]' } } }));
    assert.deepEqual(await s.problems('web'), problems(2), 'HEAD’s own state, not the older item');
    readerClient.destroy();
    raw.destroy();
  });

  it('a concurrent writer is detected by the conditional HEAD write', async () => {
    const a = await fresh();
    const b = new DynamoStore({ table: `fleetwarden-test-${n}`, client: client() });
    const tick = { group: 'web', at: 1, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] };
    await fixtureSave(a, tick);
    // b reads HEAD, then a commits, then b tries to commit on top of the version it read.
    await Promise.all([fixtureSave(a, tick), fixtureSave(b, tick)]).then(
      () => assert.fail('one of two simultaneous ticks must be refused'),
      (err: unknown) => assert.match(String(err), /was written by another controller meanwhile/),
    );
    await a.close();
    await b.close();
  });
  it('a group’s last error, recorded by a worker, is what status shows as lastError (no live reconciler), until a good tick clears it', async () => {
    const s = await fresh();
    const config = parseConfigText('groups:\n  - name: web\n  - name: erp\n');
    const at = Date.parse('2026-06-01T10:00:00Z');
    assert.equal((await s.wakeMarks('web')).failing, false);
    await s.setGroupError('web', { at, message: 'ProviderError: DescribeInstances throttled', retryable: true });
    assert.equal((await s.wakeMarks('web')).failing, true, 'the worker knows there is one to clear');
    const status = await statusView(s, config, at + 1000);
    assert.deepEqual(status.groups.map((g) => [g.group, g.lastError]), [['web', { at: '2026-06-01T10:00:00Z', message: 'ProviderError: DescribeInstances throttled', retryable: true }], ['erp', null]]);
    await s.setGroupError('web', null);
    assert.equal(await s.groupError('web'), null);
    assert.equal((await statusView(s, config, at + 2000)).groups[0]?.lastError, null);
  });

  it('with expireAfter, history entries and agent commands carry the TTL attribute (epoch seconds) the table expires them by', async () => {
    const table = `fleetwarden-test-${++n}`;
    await DynamoStore.createTable(client(), table);
    const s = new DynamoStore({ table, client: client(), expireAfter: { historyMs: 7 * 86_400_000, agentCommandsMs: 86_400_000 } });
    const at = Date.parse('2026-06-01T00:00:00Z');
    await s.appendHistory([{ at, group: 'web', instanceId: null, type: 'window', summary: 'window w entered' }]);
    await s.queueAgentCommands([{ id: 'c-1', instanceId: 'i-1', group: 'web', kind: 'event', event: 'instance-ready-for-shutdown', args: [], timeoutMs: 1000, sentAt: at }]);
    const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
    const items = (await client().send(new ScanCommand({ TableName: table }))).Items ?? [];
    const ttlOf = (pk: string): string | undefined => items.find((i) => i['pk']?.S === pk)?.[TTL_ATTRIBUTE]?.N;
    assert.equal(ttlOf('H'), String((at + 7 * 86_400_000) / 1000), 'history: written at + historyRetention');
    assert.equal(ttlOf('A#i-1'), String((at + 86_400_000) / 1000), 'agent command: sent at + one day');
    const plain = await fresh();
    await plain.appendHistory([{ at, group: 'web', instanceId: null, type: 'window', summary: 'x' }]);
    const plainItems = (await client().send(new ScanCommand({ TableName: `fleetwarden-test-${n}` }))).Items ?? [];
    assert.equal(plainItems.some((i) => i[TTL_ATTRIBUTE] !== undefined), false, 'without it, nothing expires by itself');
    await s.close();
    await plain.close();
  });

  it('history written by a CLI command to the table (override set) carries the TTL attribute too: at + historyRetention', async () => {
    const table = `fleetwarden-test-${++n}`;
    await DynamoStore.createTable(client(), table);
    const dir = mkdtempSync(join(tmpdir(), 'fw-ttl-'));
    const config = join(dir, 'fleetwarden.yaml');
    writeFileSync(config, `provider: aws\naws: { region: us-east-1 }\nstore: { kind: dynamodb, table: ${table} }\ncontroller: { historyRetention: 7d }\ngroups:\n  - name: web\n`);
    const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '1' };
    const r = await runCli(['override', 'set', 'web', 'fleets.main.desired', '3', '--ttl', '2h', '--reason', 'launch day', '--config', config], env);
    assert.equal(r.status, 0, r.stderr);
    const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
    const history = ((await client().send(new ScanCommand({ TableName: table }))).Items ?? []).filter((i) => i['pk']?.S === 'H');
    assert.equal(history.length, 1);
    const at = Number(history[0]?.['at']?.N);
    assert.match(history[0]?.['summary']?.S ?? '', /override fleets\.main\.desired set/);
    assert.equal(history[0]?.[TTL_ATTRIBUTE]?.N, String(Math.ceil((at + 7 * 86_400_000) / 1000)), 'a row the table’s TTL deletes after the retention, as the worker’s are');
  });
});
