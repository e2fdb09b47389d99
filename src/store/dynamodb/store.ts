import {
  type AttributeValue,
  BatchWriteItemCommand,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { convertToNative, marshall } from '@aws-sdk/util-dynamodb';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import type { KeyValue } from '../../config/keys.js';
import type { Override } from '../../config/resolve.js';
import { CONTROLS, type Control, type ControlKind, type InstanceRecord, type WorkloadRecord } from '../../domain/model.js';
import { errorKind, FleetwardenError, LeaseLostError } from '../../domain/errors.js';
import type { ReportedProblem } from '../../domain/problems.js';
import type { ActionFailure } from '../../planner/types.js';
import { type CancelRequest, isOpen, type WindowExecution } from '../../maintenance/model.js';
import type { AgentCommand, AgentCommandResult, ApiToken, CommandHandle, DashboardSession, GroupState, HistoryEntry, HistoryQuery, Lease, LeaseToken, Store, TickWrite } from '../../ports/index.js';
import type { AgentAck } from '../../domain/agent-ack.js';
import { actionFailureSchema, agentAckSchema, agentCommandResultSchema, agentCommandSchema, cancelRequestSchema, commandHandleSchema, decodeStored, decodeStoredJson, historyDataSchema, historyEntrySchema, instanceRecordSchema, reportedProblemSchema, windowExecutionSchema, workloadRecordSchema } from '../../ports/schemas.js';
import { z } from 'zod';
import type { AwsCall } from '../../ports/aws-calls.js';

/**
 * The Store on DynamoDB, in one table (`pk`, `sk`). DynamoDB Local stand-ins such as dynalite have no
 * transactions, and TransactWriteItems stops at 100 items anyway, so a tick is made atomic by versioning:
 * its records (and history) are written under the group's next version, and become visible only when the group's
 * HEAD item is advanced by a conditional write. Readers take each record's newest version at or below HEAD, so a
 * tick that dies half-way leaves nothing visible. Leases are conditional writes too, on the group's HEAD item itself
 * (owner `lo`, expiry `lexp`, generation `lgen`): the commit of a tick is conditioned on the lease it was made under,
 * in the same single-item write, so a controller that lost the lease cannot commit (docs/development.md, rule 9).
 * A write marks its version begun on HEAD first (`writing`, under the lease); a version begun and never committed is
 * skipped, never reused (HEAD `skip`, Skipped), so the late items of a writer stalled past its lease stay invisible;
 * and the items themselves are sent under the writer's fence (TickWrite.fence), so a writer that lost its lease
 * stops sending them.
 *
 * A tick's history is written beside its records as pending items (`G#<group>/PH#<version>#<n>`) and moved to the
 * history partition once committed; pending items of a skipped version belong to a dead attempt and are dropped.
 * Every tick first finishes any move a crash interrupted, so committed history is never lost.
 *
 * Items: `G#<group>/HEAD` (version, the version being written, skipped versions, workload, handles, failures,
 * active windows, problems — or, over HEAD_STATE_BYTES, the version whose `G#<group>/S#<version>` item holds them) ·
 * `G#<group>/R#<id>#<version>` (a record, or a tombstone) · `G#<group>/PH#…` (pending history) · `H/<id>` (history) ·
 * `O/<group>#<key>` (overrides) · `V#<group>/<key>` (stored values) · `C/<instance>#<kind>` (controls) ·
 * `G#<group>/X#<execution id>#<version>` (window executions, versioned like records; a body over BODY_PART_BYTES in
 * parts, `…#<version>#<n>`) · `T/<hash>` (API tokens) · `A#<instance>/<command id>` (agent commands; `cancel` set when it is to stop) ·
 * `K#<group>/<execution id>` (operators' cancel requests) · `Q#<group>/<instance>` (agents' last acknowledgements) ·
 * `S/<session id hash>` (dashboard sessions; `ttl`, epoch seconds, lets a table TTL on `ttl` delete expired ones) ·
 * `META/HSEQ` (history id counter).
 */
/**
 * Every DynamoDB call the store makes at run time (ports/aws-calls.ts): the IAM policy is generated from it.
 * CreateTable is not among them: the table is created by the operator (docs/aws.md), `createTable` is for tests.
 */
export const DYNAMODB_CALLS: readonly AwsCall[] = (['GetItem', 'PutItem', 'DeleteItem', 'UpdateItem', 'Query', 'Scan', 'BatchWriteItem'] as const).map((operation) => ({
  service: 'dynamodb',
  operation,
  action: `dynamodb:${operation}`,
  features: ['state-table'],
  resource: { kind: 'state-table' },
  mutating: !['GetItem', 'Query', 'Scan'].includes(operation),
}));

/** A group's last failed tick (what status shows as lastError). */
export interface GroupError {
  readonly at: number;
  readonly message: string;
  readonly retryable: boolean;
}

export class DynamoStoreError extends FleetwardenError {
  override readonly name: string = 'DynamoStoreError';
}

/**
 * A conditional write refused: the SDK's own exception, or the ProviderError of kind `conflict` it becomes when the
 * composition root maps the client's errors (providers/aws/errors.ts, which this layer may not import).
 */
function conditionFailed(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || errorKind(err) === 'conflict';
}

type Item = Record<string, AttributeValue>;

/**
 * Items go through the SDK's marshalling (@aws-sdk/util-dynamodb): strings are S, numbers N, booleans BOOL, absent
 * values left out — the layout the table has always held, so existing tables read as before.
 */
type Attrs = Readonly<Record<string, string | number | boolean | Uint8Array | undefined>>;
const item = (attrs: Attrs): Item => marshall(attrs, { removeUndefinedValues: true });
const keyOf = (pk: string, sk: string): Item => marshall({ pk, sk });
/** ExpressionAttributeValues (`:name` → value). */
const values = (attrs: Attrs): Item => marshall(attrs, { removeUndefinedValues: true });
const attr = (i: Item, k: string): unknown => {
  const a = i[k];
  return a === undefined ? undefined : convertToNative(a);
};
const str = (i: Item, k: string): string | undefined => {
  const v = attr(i, k);
  return typeof v === 'string' ? v : undefined;
};
const num = (i: Item, k: string): number | undefined => {
  const v = attr(i, k);
  return typeof v === 'number' ? v : undefined;
};
const pad = (n: number): string => String(n).padStart(12, '0');

/** A group's state beside its records, as HEAD holds it or the item it names holds it. */
interface HeadState {
  workload: WorkloadRecord | undefined;
  handles: CommandHandle[];
  failures: ActionFailure[];
  windows: string[];
  problems: ReportedProblem[];
}

interface Head extends HeadState {
  v: number;
  /** The version whose `S#` item holds the state (it was too big for HEAD); undefined: on HEAD itself. */
  stateAt: number | undefined;
  /** The version whose write was last begun (`writing`): above `v`, a write that never committed. */
  writing: number;
  /** Versions begun and never committed, never to be read (SKIP_KEEP_MS). */
  skip: readonly Skipped[];
}

/**
 * A version whose write was begun and never committed (its writer killed, or stalled past its lease), and when a
 * later writer found it so. The next write takes the version after it instead, and readers ignore the version's
 * items: a stalled writer's late items can then never become visible, as they would if its version were reused.
 * The entry (and, first, every item of the version) goes once no write of it can still land: SKIP_KEEP_MS later.
 */
interface Skipped {
  readonly v: number;
  readonly at: number;
}
const skippedSchema = z.array(z.object({ v: z.number().int(), at: z.number() }));

/**
 * How long a skipped version is remembered. A write can land after its writer was found dead only when it was sent
 * before: every item write of a tick is sent under the writer's fence (TickWrite.fence, checked after the request is
 * signed), and AWS refuses a request signed more than 5 minutes before it arrives. An hour leaves room for clock skew.
 */
const SKIP_KEEP_MS = 60 * 60_000;
const SKIP_SWEEP_MS = 10 * 60_000;

const headStateSchema = z.object({
  workload: workloadRecordSchema.optional(),
  handles: z.array(commandHandleSchema),
  failures: z.array(actionFailureSchema),
  windows: z.array(z.string()),
  problems: z.array(reportedProblemSchema),
});

/**
 * A DynamoDB item is at most 400 KB. An execution's body over this many bytes (a window over a big fleet: ~440 bytes
 * per invocation, and up to 2,500 characters of output each) is written as parts: the version's item carries
 * `parts`, and each part is an item of its own (`X#<id>#<version>#<n>`, the bytes in `chunk`) in the same
 * uncommitted version, so a reader sees all of them or none (HEAD moves after every item is written).
 */
const BODY_PART_BYTES = 300_000;

/** The items of a body at (pk, sk): one, or a version item and its parts (`<sk>#<n>`); `attrs` go on each. */
function bodyAttrs(pk: string, sk: string, attrs: Attrs, body: string): Attrs[] {
  const bytes = Buffer.from(body, 'utf8');
  if (bytes.length <= BODY_PART_BYTES) return [{ pk, sk, ...attrs, body }];
  const parts = Math.ceil(bytes.length / BODY_PART_BYTES);
  return [
    { pk, sk, ...attrs, parts },
    ...Array.from({ length: parts }, (_, n) => ({ pk, sk: `${sk}#${String(n).padStart(4, '0')}`, ...attrs, part: n, chunk: bytes.subarray(n * BODY_PART_BYTES, (n + 1) * BODY_PART_BYTES) })),
  ];
}

/** The items of one execution at version `v`. */
const executionAttrs = (group: string, id: string, v: number, body: string): Attrs[] => bodyAttrs(`G#${group}`, `X#${id}#${pad(v)}`, { id, v }, body);

/**
 * A group's state beside its records (workload, handles, failures, active windows, problems) is written on HEAD, in
 * the commit itself, while it fits with room to spare: over this many bytes (thousands of instances reporting the
 * same bad tag, or failing the same start) it is written as an item of the version (`S#<version>`, in parts if need
 * be) and HEAD names that version (`stateAt`).
 */
const HEAD_STATE_BYTES = 200_000;

/** Names an item and one of its attributes in a StoredDataError: `item (G#web, HEAD) handles`. */
const whereIn = (i: Item, attribute: string): string => `item (${str(i, 'pk') ?? '?'}, ${str(i, 'sk') ?? '?'})${attribute === '' ? '' : ` ${attribute}`}`;

/** A JSON-valued attribute of an item, decoded; `fallback` when the attribute is absent. */
function jsonAttr<T>(i: Item, attribute: string, schema: z.ZodType<T>, fallback: T): T {
  const text = str(i, attribute);
  return text === undefined ? fallback : decodeStoredJson(schema, text, whereIn(i, attribute));
}

/** HEAD as read; when its state is in an `S#` item (`stateAt`), the state fields are empty: DynamoStore.head reads it. */
function readHead(item: Item | undefined): Head {
  if (item === undefined) return { v: 0, stateAt: undefined, writing: 0, skip: [], workload: undefined, handles: [], failures: [], windows: [], problems: [] };
  return {
    v: num(item, 'v') ?? 0,
    writing: num(item, 'writing') ?? 0,
    skip: jsonAttr(item, 'skip', skippedSchema, []),
    // Only a commit of this version itself names its state item: a HEAD committed by a version of Fleetwarden that
    // keeps the state on HEAD alone leaves an older `stateAt` behind, and its own attributes are the state.
    stateAt: num(item, 'stateAt') === num(item, 'v') ? num(item, 'stateAt') : undefined,
    workload: jsonAttr<WorkloadRecord | undefined>(item, 'workload', workloadRecordSchema, undefined),
    handles: jsonAttr(item, 'handles', z.array(commandHandleSchema), []),
    failures: jsonAttr(item, 'failures', z.array(actionFailureSchema), []),
    windows: jsonAttr(item, 'windows', z.array(z.string()), []),
    problems: jsonAttr(item, 'problems', z.array(reportedProblemSchema), []),
  };
}

function readLease(group: string, item: Item | undefined): Lease | null {
  const owner = item === undefined ? undefined : str(item, 'lo');
  if (item === undefined || owner === undefined) return null;
  return { group, owner, generation: num(item, 'lgen') ?? 0, expiresAt: num(item, 'lexp') ?? 0 };
}

/** The record of a record item (a tombstone has none). Unknown states are rejected, never coerced (DESIGN rule 3). */
function parseRecord(i: Item): InstanceRecord | undefined {
  const body = str(i, 'body');
  return body === undefined ? undefined : decodeStoredJson(instanceRecordSchema, body, whereIn(i, 'body'));
}

export interface DynamoStoreOptions {
  readonly table: string;
  /** Defaults to the SDK's chain (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, credentials...). */
  readonly client?: DynamoDBClient;
  /**
   * Write TTL_ATTRIBUTE on history entries and agent commands, so DynamoDB's TTL (enabled on the table by infra/)
   * deletes them and the prune scans can be skipped (ReconcilerDeps.expiresItself). Leases need none: a lease is
   * attributes of its group's HEAD item, judged by its expiry, and TTL must never delete the group's state.
   */
  readonly expireAfter?: { readonly historyMs: number; readonly agentCommandsMs: number };
}

/** The table's TTL attribute (epoch seconds), as infra/ enables it. */
export const TTL_ATTRIBUTE = 'ttl';
const ttlAt = (ms: number): number => Math.ceil(ms / 1000);

export class DynamoStore implements Store {
  private readonly db: DynamoDBClient;
  private readonly table: string;
  private readonly expireAfter: DynamoStoreOptions['expireAfter'];

  constructor(opts: DynamoStoreOptions) {
    this.db = opts.client ?? new DynamoDBClient({});
    this.table = opts.table;
    this.expireAfter = opts.expireAfter;
  }

  /** Creates the single table (pay per request). */
  static async createTable(client: DynamoDBClient, table: string): Promise<void> {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    return (await this.db.send(new GetItemCommand({ TableName: this.table, Key: keyOf(pk, sk), ConsistentRead: true }))).Item;
  }

  private async query(input: Omit<QueryCommandInput, 'TableName'>, limit = Infinity): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const r = await this.db.send(new QueryCommand({ TableName: this.table, ConsistentRead: true, ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start !== undefined && out.length < limit);
    return out;
  }

  /**
   * Writes in batches of 25, retrying unprocessed items. With `fence`, each request (each attempt of it) is sent only
   * once `fence` passed after the request was signed: a writer that lost its lease, or was stopped past it, sends
   * nothing more, and what it sent before carries a signature AWS refuses 5 minutes later (SKIP_KEEP_MS).
   */
  private async batch(requests: readonly WriteRequest[], fence?: () => Promise<void>): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: WriteRequest[] | undefined = requests.slice(i, i + 25);
      for (let attempt = 0; pending !== undefined && pending.length > 0; attempt++) {
        if (attempt > 8) throw new DynamoStoreError('BatchWriteItem kept returning unprocessed items');
        const command = new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } });
        if (fence !== undefined) {
          const checked: FinalizeRequestMiddleware<BatchWriteItemCommandInput, BatchWriteItemCommandOutput> = (next) => async (args) => {
            await fence();
            return next(args);
          };
          command.middlewareStack.addRelativeTo(checked, { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'fleetwardenFence' });
        }
        const r: BatchWriteItemCommandOutput = await this.db.send(command);
        pending = r.UnprocessedItems?.[this.table];
        if (pending !== undefined && pending.length > 0) await new Promise((res) => setTimeout(res, 50 * 2 ** attempt));
      }
    }
  }

  private async allocateHistoryIds(count: number): Promise<number> {
    const r = await this.db.send(new UpdateItemCommand({ TableName: this.table, Key: keyOf('META', 'HSEQ'), UpdateExpression: 'ADD n :k', ExpressionAttributeValues: values({ ':k': count }), ReturnValues: 'UPDATED_NEW' }));
    return Number(r.Attributes?.['n']?.N ?? count) - count + 1;
  }

  private historyItems(entries: readonly HistoryEntry[], firstId: number): Item[] {
    return entries.map((e, i) =>
      item({
        pk: 'H',
        sk: pad(firstId + i),
        at: e.at,
        grp: e.group,
        type: e.type,
        summary: e.summary,
        ...(e.instanceId === null ? {} : { inst: e.instanceId }),
        ...(e.data === undefined ? {} : { data: JSON.stringify(e.data) }),
        ...(this.expireAfter === undefined ? {} : { [TTL_ATTRIBUTE]: ttlAt(e.at + this.expireAfter.historyMs) }),
      }),
    );
  }

  /**
   * Moves committed pending history (a version ≤ head, not skipped) into the history partition and drops that of
   * skipped versions. Pending history of a version above head that is not (yet) known dead is left alone: it may be
   * a write whose commit is still on its way.
   */
  private async flushPending(group: string, head: Pick<Head, 'v' | 'skip'>, fence?: () => Promise<void>): Promise<void> {
    const pending = await this.query({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :h)', ExpressionAttributeValues: values({ ':p': `G#${group}`, ':h': 'PH#' }) });
    if (pending.length === 0) return;
    pending.sort((a, b) => (str(a, 'sk') ?? '').localeCompare(str(b, 'sk') ?? ''));
    const skipped = new Set(head.skip.map((s) => s.v));
    const committed = pending.filter((i) => (num(i, 'v') ?? 0) <= head.v && !skipped.has(num(i, 'v') ?? 0));
    const dead = pending.filter((i) => skipped.has(num(i, 'v') ?? 0));
    if (committed.length > 0) {
      const entries = committed.map((i) => decodeStoredJson(historyEntrySchema, str(i, 'entry') ?? '', whereIn(i, 'entry')));
      const first = await this.allocateHistoryIds(entries.length);
      await this.batch(
        this.historyItems(entries, first).map((Item) => ({ PutRequest: { Item } })),
        fence,
      );
    }
    await this.batch(
      [...committed, ...dead].map((i) => ({ DeleteRequest: { Key: keyOf(`G#${group}`, str(i, 'sk') ?? '') } })),
      fence,
    );
  }

  async acquireLease(group: string, owner: string, now: number, ttlMs: number): Promise<Lease | null> {
    const key = keyOf(`G#${group}`, 'HEAD');
    const names = { '#o': 'lo', '#e': 'lexp', '#g': 'lgen' };
    try {
      // A renewal keeps the generation: still ours and not released.
      const r = await this.db.send(new UpdateItemCommand({ TableName: this.table, Key: key, UpdateExpression: 'SET #e = :exp', ConditionExpression: '#o = :o AND #e > :zero', ExpressionAttributeNames: { '#o': 'lo', '#e': 'lexp' }, ExpressionAttributeValues: values({ ':o': owner, ':exp': now + ttlMs, ':zero': 0 }), ReturnValues: 'ALL_NEW' }));
      return readLease(group, r.Attributes);
    } catch (err) {
      if (!conditionFailed(err)) throw err;
    }
    try {
      // A take-over (free, expired, released — or ours but released) passes it on with the next generation.
      const r = await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET #o = :o, #e = :exp, #g = if_not_exists(#g, :zero) + :one',
          ConditionExpression: 'attribute_not_exists(#o) OR #e <= :now',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values({ ':o': owner, ':exp': now + ttlMs, ':now': now, ':zero': 0, ':one': 1 }),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return readLease(group, r.Attributes);
    } catch (err) {
      if (conditionFailed(err)) return null;
      throw err;
    }
  }

  async releaseLease(group: string, owner: string): Promise<void> {
    try {
      await this.db.send(new UpdateItemCommand({ TableName: this.table, Key: keyOf(`G#${group}`, 'HEAD'), UpdateExpression: 'SET #e = :zero', ConditionExpression: '#o = :o', ExpressionAttributeNames: { '#o': 'lo', '#e': 'lexp' }, ExpressionAttributeValues: values({ ':o': owner, ':zero': 0 }) }));
    } catch (err) {
      if (!conditionFailed(err)) throw err;
    }
  }

  async leaseHolder(group: string, now: number): Promise<Lease | null> {
    const lease = readLease(group, await this.get(`G#${group}`, 'HEAD'));
    return lease !== null && lease.expiresAt > now ? lease : null;
  }

  /**
   * When a group at rest is next due (the Lambda scheduler's skip, src/lambda/scheduler.ts): attributes of the
   * group's HEAD item beside its lease, so the scheduler's one read per group sees both. `wake` counts the writes
   * that change what the group's tick sees (overrides, acks, cancel requests, stored values); META/WAKE counts those
   * whose group the store cannot tell (controls, per instance). A `due` is only kept while both counters are the
   * ones its worker read before its tick: a write during the tick is never lost.
   */
  async wakeGroup(group: string): Promise<void> {
    await this.db.send(new UpdateItemCommand({ TableName: this.table, Key: keyOf(`G#${group}`, 'HEAD'), UpdateExpression: 'ADD #w :one', ExpressionAttributeNames: { '#w': 'wake' }, ExpressionAttributeValues: values({ ':one': 1 }) }));
  }

  /** Wakes every group (a write whose group is not known here). */
  async wakeAll(): Promise<void> {
    await this.db.send(new UpdateItemCommand({ TableName: this.table, Key: keyOf('META', 'WAKE'), UpdateExpression: 'ADD #w :one', ExpressionAttributeNames: { '#w': 'wake' }, ExpressionAttributeValues: values({ ':one': 1 }) }));
  }

  /** The wake counters a worker reads before its tick, to record a due under them after it. */
  async wakeMarks(group: string): Promise<{ readonly wake: number; readonly fleet: number; readonly failing: boolean }> {
    const [head, meta] = await Promise.all([this.get(`G#${group}`, 'HEAD'), this.get('META', 'WAKE')]);
    return { wake: (head === undefined ? undefined : num(head, 'wake')) ?? 0, fleet: (meta === undefined ? undefined : num(meta, 'wake')) ?? 0, failing: head?.['lastErr'] !== undefined };
  }

  /**
   * A group's last failed tick, kept on its HEAD item where workers of other containers and the API can read it
   * (the long-running `run` keeps it in memory instead); null clears it after a good tick.
   */
  async setGroupError(group: string, err: GroupError | null): Promise<void> {
    await this.db.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: keyOf(`G#${group}`, 'HEAD'),
        UpdateExpression: err === null ? 'REMOVE #e' : 'SET #e = :e',
        ExpressionAttributeNames: { '#e': 'lastErr' },
        ...(err === null ? {} : { ExpressionAttributeValues: values({ ':e': JSON.stringify(err) }) }),
      }),
    );
  }

  /** The group's last failed tick, as a worker recorded it, or null (never failed, or a good tick since). */
  async groupError(group: string): Promise<GroupError | null> {
    const head = await this.get(`G#${group}`, 'HEAD');
    const raw = head?.['lastErr']?.S;
    if (raw === undefined) return null;
    try {
      const e = JSON.parse(raw) as Partial<GroupError>;
      return typeof e.at === 'number' && typeof e.message === 'string' ? { at: e.at, message: e.message, retryable: e.retryable === true } : null;
    } catch {
      return null;
    }
  }

  /** Records that the group is not due before `due`, unless it was woken since `marks` were read (then: false). */
  async setDue(group: string, due: number, marks: { readonly wake: number; readonly fleet: number }): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(`G#${group}`, 'HEAD'),
          UpdateExpression: 'SET #d = :d, #dw = :w, #df = :f',
          ConditionExpression: marks.wake === 0 ? 'attribute_not_exists(#w) OR #w = :w' : '#w = :w',
          ExpressionAttributeNames: { '#d': 'due', '#dw': 'dueWake', '#df': 'dueFleet', '#w': 'wake' },
          ExpressionAttributeValues: values({ ':d': due, ':w': marks.wake, ':f': marks.fleet }),
        }),
      );
      return true;
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
  }

  /** The fleet-wide wake counter (the scheduler reads it once a minute). */
  async fleetWake(): Promise<number> {
    const meta = await this.get('META', 'WAKE');
    return (meta === undefined ? undefined : num(meta, 'wake')) ?? 0;
  }

  /**
   * The group's lease and, when it rests, until when (one read): `due` is null unless a worker recorded one and
   * nothing woke the group since (its counter, or the fleet's `fleetWake`).
   */
  async dueView(group: string, now: number, fleetWake: number): Promise<{ readonly lease: Lease | null; readonly due: number | null }> {
    const head = await this.get(`G#${group}`, 'HEAD');
    const lease = readLease(group, head);
    const due = head === undefined ? undefined : num(head, 'due');
    const woken = head === undefined || (num(head, 'wake') ?? 0) !== (num(head, 'dueWake') ?? 0) || (num(head, 'dueFleet') ?? 0) !== fleetWake;
    return { lease: lease !== null && lease.expiresAt > now ? lease : null, due: due === undefined || woken ? null : due };
  }

  /** Throws unless `lease` is the group's now (a read: the commit itself re-checks it atomically). */
  private async fence(group: string, lease: LeaseToken): Promise<void> {
    const now = readLease(group, await this.get(`G#${group}`, 'HEAD'));
    if (now !== null && now.owner === lease.owner && now.generation === lease.generation) return;
    throw new LeaseLostError(group, `write by ${lease.owner} (lease generation ${lease.generation}) refused: the lease is ${now === null ? "nobody's" : `${now.owner}'s, generation ${now.generation}`}`);
  }

  /** The visible record items of a group: per instance, the newest committed version at or below `head`. */
  private static visible(items: readonly Item[], head: Pick<Head, 'v' | 'skip'>): Map<string, Item> {
    const best = new Map<string, Item>();
    const skipped = new Set(head.skip.map((s) => s.v));
    for (const item of items) {
      const v = num(item, 'v') ?? 0;
      const id = str(item, 'id') ?? '';
      if (v > head.v || skipped.has(v)) continue; // written by a tick that never committed
      const prior = best.get(id);
      if (prior === undefined || (num(prior, 'v') ?? 0) < v) best.set(id, item);
    }
    return best;
  }

  /** A group's record items; `keysOnly`: without their bodies. */
  private async recordItems(group: string, keysOnly = false): Promise<Item[]> {
    return this.query({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :r)', ExpressionAttributeValues: values({ ':p': `G#${group}`, ':r': 'R#' }), ...(keysOnly ? { ProjectionExpression: 'pk, sk, id, v' } : {}) });
  }

  /** A group's execution items; `keysOnly`: without their bodies (what garbage collection needs). */
  private async executionItems(group: string, keysOnly = false): Promise<Item[]> {
    return this.query({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :x)', ExpressionAttributeValues: values({ ':p': `G#${group}`, ':x': 'X#' }), ...(keysOnly ? { ProjectionExpression: 'pk, sk, id, v' } : {}) });
  }

  /**
   * Records that a write of version `v` begins (HEAD `writing`) with the versions to skip, under the writer's lease,
   * on top of `head` as read (its version and the write it saw begun: a request of an earlier attempt landing late
   * can then never move `writing` back, or drop a version from `skip`).
   */
  private async beginWrite(group: string, lease: LeaseToken, head: Pick<Head, 'v' | 'writing'>, v: number, skip: readonly Skipped[]): Promise<void> {
    try {
      await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(`G#${group}`, 'HEAD'),
          UpdateExpression: skip.length === 0 ? 'SET writing = :w REMOVE skip' : 'SET writing = :w, skip = :s',
          ConditionExpression: `(attribute_not_exists(v) OR v = :v) AND ${head.writing === 0 ? 'attribute_not_exists(writing)' : 'writing = :seen'} AND lo = :o AND lgen = :g`,
          ExpressionAttributeValues: values({ ':w': v, ':v': head.v, ...(head.writing === 0 ? {} : { ':seen': head.writing }), ':o': lease.owner, ':g': lease.generation, ...(skip.length === 0 ? {} : { ':s': JSON.stringify(skip) }) }),
        }),
      );
    } catch (err) {
      if (conditionFailed(err)) {
        await this.fence(group, lease);
        throw new DynamoStoreError(`group ${group} was written by another controller meanwhile; this tick is discarded`, { kind: 'conflict' });
      }
      throw err;
    }
  }

  /** Deletes the record, execution and state items of `versions`: writes that never committed. */
  private async dropVersions(group: string, versions: ReadonlySet<number>, fence: () => Promise<void>): Promise<void> {
    const stale = [...(await this.recordItems(group, true)), ...(await this.executionItems(group, true)), ...(await this.stateItems(group))].filter((i) => versions.has(num(i, 'v') ?? 0));
    await this.batch(
      stale.map((i) => ({ DeleteRequest: { Key: keyOf(str(i, 'pk') ?? '', str(i, 'sk') ?? '') } })),
      fence,
    );
  }

  /** HEAD with its state, read from the `S#` item it names when it was too big for HEAD itself. */
  private async head(group: string, item?: Item): Promise<Head> {
    for (let attempt = 0; ; attempt++) {
      const head = readHead(item !== undefined && attempt === 0 ? item : await this.get(`G#${group}`, 'HEAD'));
      if (head.stateAt === undefined) return head;
      const sk = `S#${pad(head.stateAt)}`;
      const items = await this.stateItems(group, head.stateAt);
      const version = items.find((i) => str(i, 'sk') === sk);
      if (version !== undefined) {
        const body = str(version, 'body') ?? DynamoStore.joinParts(version, items.filter((i) => i['part'] !== undefined));
        const state = decodeStoredJson(headStateSchema, body ?? '', whereIn(version, 'body'));
        return { ...head, ...state, workload: state.workload };
      }
      // A tick committed meanwhile and deleted the state item this HEAD named: read HEAD again.
      if (attempt >= 3) throw new DynamoStoreError(`item (G#${group}, HEAD) stateAt: no item (G#${group}, ${sk})`);
    }
  }

  /** The items of the group state written at version `v` (or, without `v`, of every version; keys only). */
  private async stateItems(group: string, v?: number): Promise<Item[]> {
    return this.query({ KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)', ExpressionAttributeValues: values({ ':p': `G#${group}`, ':s': v === undefined ? 'S#' : `S#${pad(v)}` }), ...(v === undefined ? { ProjectionExpression: 'pk, sk, v' } : {}) });
  }

  /** The committed executions of a group (newest version at or below HEAD, not skipped), a body in parts put together. */
  private async visibleExecutions(group: string, head?: Head): Promise<WindowExecution[]> {
    const at = head ?? readHead(await this.get(`G#${group}`, 'HEAD'));
    const items = await this.executionItems(group);
    const parts = new Map<string, Item[]>();
    const versions: Item[] = [];
    for (const i of items) {
      if (i['part'] === undefined) versions.push(i);
      else {
        const key = `${str(i, 'id') ?? ''}#${num(i, 'v') ?? 0}`;
        const list = parts.get(key);
        if (list === undefined) parts.set(key, [i]);
        else list.push(i);
      }
    }
    return [...DynamoStore.visible(versions, at).values()].flatMap((i) => {
      const body = str(i, 'body') ?? DynamoStore.joinParts(i, parts.get(`${str(i, 'id') ?? ''}#${num(i, 'v') ?? 0}`) ?? []);
      return body === undefined ? [] : [decodeStoredJson(windowExecutionSchema, body, whereIn(i, 'body'))];
    });
  }

  /** The body of an execution written in parts (executionAttrs); undefined when the item has none. */
  private static joinParts(version: Item, parts: readonly Item[]): string | undefined {
    const count = num(version, 'parts');
    if (count === undefined) return undefined;
    const byIndex = new Map(parts.map((p) => [num(p, 'part'), attr(p, 'chunk')]));
    const chunks = Array.from({ length: count }, (_, n) => byIndex.get(n));
    const missing = chunks.flatMap((c, n) => (c instanceof Uint8Array ? [] : [n]));
    if (missing.length > 0) throw new DynamoStoreError(`${whereIn(version, 'parts')}: ${count} parts, ${missing.length} missing (${missing.join(', ')})`);
    return Buffer.concat(chunks as Uint8Array[]).toString('utf8');
  }

  async loadGroup(group: string): Promise<GroupState> {
    const head = await this.head(group);
    const records = new Map<string, InstanceRecord>();
    for (const [id, item] of DynamoStore.visible(await this.recordItems(group), head)) {
      const record = parseRecord(item);
      if (record !== undefined) records.set(id, record);
    }
    const executions = (await this.visibleExecutions(group, head)).filter(isOpen).sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
    return { records, workload: head.workload, handles: head.handles, failures: head.failures, activeWindows: head.windows, executions, problems: head.problems };
  }

  async executions(query: { readonly group?: string | undefined; readonly limit: number; readonly before?: string | undefined }): Promise<WindowExecution[]> {
    const groups = query.group !== undefined ? [query.group] : await this.groupNames();
    const all = (await Promise.all(groups.map((g) => this.visibleExecutions(g)))).flat().sort((a, b) => b.start - a.start || b.id.localeCompare(a.id));
    const from = query.before === undefined ? 0 : all.findIndex((e) => e.id === query.before) + 1;
    if (query.before !== undefined && from === 0) return [];
    return all.slice(from, from + query.limit);
  }

  async execution(id: string): Promise<WindowExecution | null> {
    const group = id.split('/')[0] ?? '';
    return (await this.visibleExecutions(group)).find((e) => e.id === id) ?? null;
  }

  /** Groups that have a HEAD item. */
  private async groupNames(): Promise<string[]> {
    const names: string[] = [];
    let start: Item | undefined;
    do {
      const r = await this.db.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, FilterExpression: 'begins_with(pk, :g) AND sk = :h', ExpressionAttributeValues: values({ ':g': 'G#', ':h': 'HEAD' }), ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const i of r.Items ?? []) names.push((str(i, 'pk') ?? '').slice(2));
      start = r.LastEvaluatedKey;
    } while (start !== undefined);
    return names;
  }

  async problems(group: string): Promise<ReportedProblem[]> {
    return (await this.head(group)).problems;
  }

  async saveTick(w: TickWrite): Promise<void> {
    // Records are serialised before anything is written; anything failing later leaves an uncommitted version,
    // which readers ignore.
    const bodies = w.records.map((r) => [r.instanceId, JSON.stringify(r)] as const);
    const execBodies = (w.executions ?? []).map((e) => [e.id, JSON.stringify(e)] as const);
    const history = w.history.map((h) => JSON.stringify(h));
    const headItem = await this.get(`G#${w.group}`, 'HEAD');
    const head = await this.head(w.group, headItem ?? {});
    const lease = readLease(w.group, headItem);
    // Refused before anything is written; the commit below checks it again in the same write.
    if (lease === null || lease.owner !== w.lease.owner || lease.generation !== w.lease.generation) await this.fence(w.group, w.lease);
    // Every batch below is sent under the writer's fence; without one, under a read of the lease (the request is
    // signed before that read: landing more than 5 minutes later, AWS refuses it).
    const fence = w.fence ?? (() => this.fence(w.group, w.lease));
    await this.flushPending(w.group, head, fence);
    // A write begun and never committed (`writing` above `v`: its writer killed, or stalled past its lease and maybe
    // still writing) left items that a commit of its version would make visible: a record or execution nobody
    // committed, or stray parts of a body. Its version is skipped, never reused; readers ignore it, and its items
    // are deleted once none can still land.
    const found = head.writing > head.v && !head.skip.some((s) => s.v === head.writing) ? [{ v: head.writing, at: w.at }] : [];
    const skipping = [...head.skip, ...found];
    // Expired entries go together once the oldest is SKIP_SWEEP_MS past its time: a group whose ticks keep failing
    // adds one each tick, and each drop reads the keys of all the group's items.
    const due = skipping.some((s) => s.at + SKIP_KEEP_MS + SKIP_SWEEP_MS <= w.at);
    const expired = new Set(due ? skipping.filter((s) => s.at + SKIP_KEEP_MS <= w.at).map((s) => s.v) : []);
    if (expired.size > 0) await this.dropVersions(w.group, expired, fence);
    const skip = skipping.filter((s) => !expired.has(s.v));
    const v = Math.max(head.v, head.writing) + 1;
    await this.beginWrite(w.group, w.lease, head, v, skip);
    const puts: Attrs[] = [
      ...bodies.map(([id, body]) => ({ pk: `G#${w.group}`, sk: `R#${id}#${pad(v)}`, id, v, body })),
      ...(w.removed ?? []).map((id) => ({ pk: `G#${w.group}`, sk: `R#${id}#${pad(v)}`, id, v, gone: true })),
      ...execBodies.flatMap(([id, body]) => executionAttrs(w.group, id, v, body)),
    ];
    history.forEach((entry, i) => puts.push({ pk: `G#${w.group}`, sk: `PH#${pad(v)}#${String(i).padStart(6, '0')}`, v, entry }));

    const finished = new Set(w.finishedHandles);
    const next: HeadState = {
      workload: w.workload,
      handles: [...head.handles.filter((h) => !finished.has(h.id)), ...w.newHandles],
      failures: w.consumedFailures ? [...w.failures] : [...head.failures, ...w.failures],
      windows: [...w.activeWindows],
      problems: w.problems === undefined ? head.problems : [...w.problems],
    };
    const inline = { ':h': JSON.stringify(next.handles), ':f': JSON.stringify(next.failures), ':w': JSON.stringify(next.windows), ':p': JSON.stringify(next.problems), ...(next.workload === undefined ? {} : { ':wl': JSON.stringify(next.workload) }) };
    const onHead = Object.values(inline).reduce((n, text) => n + Buffer.byteLength(text, 'utf8'), 0) <= HEAD_STATE_BYTES;
    if (!onHead) puts.push(...bodyAttrs(`G#${w.group}`, `S#${pad(v)}`, { v }, JSON.stringify(next)));
    await this.batch(
      puts.map((attrs) => ({ PutRequest: { Item: item(attrs) } })),
      fence,
    );
    try {
      // The commit: one conditional write of HEAD, on top of the version read and under the writer's lease.
      await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(`G#${w.group}`, 'HEAD'),
          UpdateExpression: onHead ? `SET v = :next, handles = :h, failures = :f, windows = :w, problems = :p${next.workload === undefined ? ' REMOVE stateAt, workload' : ', workload = :wl REMOVE stateAt'}` : 'SET v = :next, stateAt = :next REMOVE handles, failures, windows, problems, workload',
          // `writing`: the write this very call began (a late commit of an earlier attempt is refused once a later
          // one began, and so never commits a version that attempt lists as skipped).
          ConditionExpression: '(attribute_not_exists(v) OR v = :v) AND writing = :next AND lo = :o AND lgen = :g',
          ExpressionAttributeValues: values({ ':next': v, ':v': head.v, ':o': w.lease.owner, ':g': w.lease.generation, ...(onHead ? inline : {}) }),
        }),
      );
    } catch (err) {
      if (conditionFailed(err)) {
        await this.fence(w.group, w.lease);
        throw new DynamoStoreError(`group ${w.group} was written by another controller meanwhile; this tick is discarded`, { kind: 'conflict' });
      }
      throw err;
    }
    // Committed. Older versions of what this tick replaced, and the tombstones, are now garbage.
    // Superseded versions are only looked for when this tick replaced or removed records.
    const touched = new Set([...w.records.map((r) => r.instanceId), ...(w.removed ?? [])]);
    const removed = new Set(w.removed ?? []);
    const existing = touched.size === 0 ? [] : await this.recordItems(w.group);
    const garbage = existing.filter((i) => touched.has(str(i, 'id') ?? '') && (num(i, 'v') ?? 0) < v);
    for (const id of removed) garbage.push(keyOf(`G#${w.group}`, `R#${id}#${pad(v)}`));
    const execIds = new Set(execBodies.map(([id]) => id));
    if (execIds.size > 0) garbage.push(...(await this.executionItems(w.group, true)).filter((i) => execIds.has(str(i, 'id') ?? '') && (num(i, 'v') ?? 0) < v));
    // The state item HEAD named before this commit (this one wrote its state anew, on HEAD or in an item of its own);
    // every 100th version (or the first past it) also looks for one a writer killed right after its commit left behind.
    if (head.stateAt !== undefined || Math.floor(v / 100) !== Math.floor(head.v / 100)) garbage.push(...(await this.stateItems(w.group)).filter((i) => (num(i, 'v') ?? 0) < v));
    await this.batch(
      garbage.map((i) => ({ DeleteRequest: { Key: keyOf(str(i, 'pk') ?? '', str(i, 'sk') ?? '') } })),
      fence,
    );
    await this.flushPending(w.group, { v, skip }, fence);
  }

  async allRecords(): Promise<InstanceRecord[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const r = await this.db.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, FilterExpression: 'begins_with(pk, :g)', ExpressionAttributeValues: values({ ':g': 'G#' }), ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start !== undefined);
    const out: InstanceRecord[] = [];
    const groups = new Map<string, Item[]>();
    for (const i of items) groups.set(str(i, 'pk') ?? '', [...(groups.get(str(i, 'pk') ?? '') ?? []), i]);
    for (const list of groups.values()) {
      const head = readHead(list.find((i) => str(i, 'sk') === 'HEAD'));
      for (const item of DynamoStore.visible(list.filter((i) => str(i, 'sk')?.startsWith('R#')), head).values()) {
        const record = parseRecord(item);
        if (record !== undefined) out.push(record);
      }
    }
    return out.sort((a, b) => a.group.localeCompare(b.group) || a.instanceId.localeCompare(b.instanceId));
  }

  async history(q: HistoryQuery): Promise<HistoryEntry[]> {
    // The filters are the query's FilterExpression: DynamoDB drops what does not match before answering, and
    // paging on `before` (the key) stays correct however sparse the matches.
    const filters: string[] = [];
    const names: Record<string, string> = {};
    const vals: Record<string, string | number> = { ':h': 'H' };
    if (q.before !== undefined) vals[':b'] = pad(q.before);
    if (q.group !== undefined) {
      filters.push('#g = :g');
      names['#g'] = 'grp';
      vals[':g'] = q.group;
    }
    if (q.instanceId !== undefined) {
      filters.push('#i = :i');
      names['#i'] = 'inst';
      vals[':i'] = q.instanceId;
    }
    if (q.types !== undefined) {
      if (q.types.length === 0) return [];
      names['#t'] = 'type';
      filters.push(`#t IN (${q.types.map((t, n) => {
        vals[`:t${n}`] = t;
        return `:t${n}`;
      }).join(', ')})`);
    }
    if (q.from !== undefined || q.to !== undefined) names['#a'] = 'at';
    if (q.from !== undefined) {
      filters.push('#a >= :from');
      vals[':from'] = q.from;
    }
    if (q.to !== undefined) {
      filters.push('#a < :to');
      vals[':to'] = q.to;
    }
    const out: HistoryEntry[] = [];
    let start: Item | undefined;
    do {
      const r = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          ConsistentRead: true,
          ScanIndexForward: false,
          KeyConditionExpression: q.before === undefined ? 'pk = :h' : 'pk = :h AND sk < :b',
          ...(filters.length === 0 ? {} : { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: names }),
          ExpressionAttributeValues: values(vals),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const i of r.Items ?? []) {
        const group = str(i, 'grp') ?? '';
        const inst = str(i, 'inst');
        const data = jsonAttr(i, 'data', historyDataSchema, undefined);
        const entry = { id: Number(str(i, 'sk')), at: attr(i, 'at'), group, instanceId: inst ?? null, type: attr(i, 'type'), summary: attr(i, 'summary'), ...(data === undefined ? {} : { data }) };
        out.push(decodeStored(historyEntrySchema, entry, whereIn(i, '')));
        if (out.length >= q.limit) return out;
      }
      start = r.LastEvaluatedKey;
    } while (start !== undefined);
    return out;
  }

  async appendHistory(entries: readonly HistoryEntry[], lease?: LeaseToken & { readonly group: string }): Promise<void> {
    if (entries.length === 0) return;
    if (lease !== undefined) await this.fence(lease.group, lease);
    const first = await this.allocateHistoryIds(entries.length);
    await this.batch(this.historyItems(entries, first).map((Item) => ({ PutRequest: { Item } })));
  }

  async pruneHistory(olderThan: number): Promise<number> {
    const old = await this.query({ KeyConditionExpression: 'pk = :h', FilterExpression: '#a < :t', ExpressionAttributeNames: { '#a': 'at' }, ExpressionAttributeValues: values({ ':h': 'H', ':t': olderThan }) });
    await this.batch(old.map((i) => ({ DeleteRequest: { Key: keyOf('H', str(i, 'sk') ?? '') } })));
    return old.length;
  }

  async overrides(now: number): Promise<Override[]> {
    const items = await this.query({ KeyConditionExpression: 'pk = :o', ExpressionAttributeValues: values({ ':o': 'O' }) });
    return items
      .filter((i) => (num(i, 'exp') ?? 0) > now)
      .sort((a, b) => (num(a, 'created') ?? 0) - (num(b, 'created') ?? 0))
      .map((i) => ({ group: str(i, 'grp') ?? '', key: str(i, 'key') ?? '', value: JSON.parse(str(i, 'value') ?? 'null') as KeyValue, expiresAt: num(i, 'exp') ?? 0, reason: str(i, 'reason') ?? '' }));
  }

  async setOverride(o: Override, at: number): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: 'O', sk: `${o.group}#${o.key}`, grp: o.group, key: o.key, value: JSON.stringify(o.value), exp: o.expiresAt, reason: o.reason, created: at }) }));
    await this.wakeGroup(o.group);
    await this.appendHistory([{ at, group: o.group, instanceId: null, type: 'override', summary: `override ${o.key} set until ${new Date(o.expiresAt).toISOString()}: ${o.reason}`, data: { key: o.key, value: o.value } }]);
  }

  async removeOverride(group: string, key: string): Promise<boolean> {
    const r = await this.db.send(new DeleteItemCommand({ TableName: this.table, Key: keyOf('O', `${group}#${key}`), ReturnValues: 'ALL_OLD' }));
    if (r.Attributes !== undefined) await this.wakeGroup(group);
    return r.Attributes !== undefined;
  }

  async storeValues(group: string): Promise<Record<string, KeyValue>> {
    const items = await this.query({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: values({ ':p': `V#${group}` }) });
    return Object.fromEntries(items.map((i) => [str(i, 'sk') ?? '', JSON.parse(str(i, 'value') ?? 'null') as KeyValue]));
  }

  async setStoreValue(group: string, key: string, value: KeyValue): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: `V#${group}`, sk: key, value: JSON.stringify(value) }) }));
    await this.wakeGroup(group);
  }

  async controls(now: number): Promise<Control[]> {
    const items = await this.query({ KeyConditionExpression: 'pk = :c', ExpressionAttributeValues: values({ ':c': 'C' }) });
    return items.flatMap((i) => {
      const kind = str(i, 'kind') ?? '';
      if (!(CONTROLS as readonly string[]).includes(kind) || (num(i, 'until') ?? 0) <= now) return [];
      return [{ instanceId: str(i, 'inst') ?? '', kind: kind as ControlKind, until: num(i, 'until') ?? 0, reason: str(i, 'reason') ?? '' }];
    });
  }

  async setControl(c: Control, at: number): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: 'C', sk: `${c.instanceId}#${c.kind}`, inst: c.instanceId, kind: c.kind, until: c.until, reason: c.reason, created: at }) }));
    // A control names an instance, not its group: every group is woken.
    await this.wakeAll();
  }

  async removeControl(instanceId: string, kind: ControlKind): Promise<boolean> {
    const r = await this.db.send(new DeleteItemCommand({ TableName: this.table, Key: keyOf('C', `${instanceId}#${kind}`), ReturnValues: 'ALL_OLD' }));
    if (r.Attributes !== undefined) await this.wakeAll();
    return r.Attributes !== undefined;
  }

  async putToken(t: ApiToken): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: 'T', sk: t.hash, role: t.role, ...(t.instanceId === null ? {} : { inst: t.instanceId }), created: t.createdAt, label: t.label }) }));
  }

  private static token(i: Item): ApiToken | null {
    const role = str(i, 'role');
    if (role !== 'admin' && role !== 'viewer' && role !== 'agent') return null;
    return { hash: str(i, 'sk') ?? '', role, instanceId: str(i, 'inst') ?? null, createdAt: num(i, 'created') ?? 0, label: str(i, 'label') ?? '' };
  }

  async tokenByHash(hash: string): Promise<ApiToken | null> {
    const item = await this.get('T', hash);
    return item === undefined ? null : DynamoStore.token(item);
  }

  async tokens(): Promise<ApiToken[]> {
    const items = await this.query({ KeyConditionExpression: 'pk = :t', ExpressionAttributeValues: values({ ':t': 'T' }) });
    return items.flatMap((i) => DynamoStore.token(i) ?? []).sort((a, b) => a.createdAt - b.createdAt || a.hash.localeCompare(b.hash));
  }

  async revokeTokens(match: { readonly hash?: string; readonly instanceId?: string; readonly role?: ApiToken['role'] }): Promise<number> {
    const gone = (await this.tokens()).filter((t) => (match.hash === undefined || t.hash === match.hash) && (match.instanceId === undefined || t.instanceId === match.instanceId) && (match.role === undefined || t.role === match.role));
    await this.batch(gone.map((t) => ({ DeleteRequest: { Key: keyOf('T', t.hash) } })));
    return gone.length;
  }

  async putSession(x: DashboardSession): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: 'S', sk: x.idHash, role: x.role, who: x.who, th: x.tokenHash, csrf: x.csrf, exp: x.expiresAt, ttl: Math.ceil(x.expiresAt / 1000) }) }));
  }

  async sessionByHash(idHash: string, now: number): Promise<DashboardSession | null> {
    const i = await this.get('S', idHash);
    // DynamoDB's TTL deletes late (within days): the expiry is checked here. An unknown role opens nothing.
    const role = i === undefined ? undefined : str(i, 'role');
    const exp = i === undefined ? undefined : num(i, 'exp');
    const tokenHash = i === undefined ? undefined : str(i, 'th');
    if (i === undefined || (role !== 'admin' && role !== 'viewer') || exp === undefined || exp <= now || tokenHash === undefined) return null;
    return { idHash, role, who: str(i, 'who') ?? '', tokenHash, csrf: str(i, 'csrf') ?? '', expiresAt: exp };
  }

  async removeSession(idHash: string): Promise<boolean> {
    const r = await this.db.send(new DeleteItemCommand({ TableName: this.table, Key: keyOf('S', idHash), ReturnValues: 'ALL_OLD' }));
    return r.Attributes !== undefined;
  }

  async pruneSessions(now: number): Promise<number> {
    const old = await this.query({ KeyConditionExpression: 'pk = :s', FilterExpression: '#e <= :now', ExpressionAttributeNames: { '#e': 'exp' }, ExpressionAttributeValues: values({ ':s': 'S', ':now': now }) });
    await this.batch(old.map((i) => ({ DeleteRequest: { Key: keyOf('S', str(i, 'sk') ?? '') } })));
    return old.length;
  }

  async queueAgentCommands(commands: readonly AgentCommand[]): Promise<void> {
    for (const c of commands) {
      const { result: _result, ...body } = c;
      try {
        await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: `A#${c.instanceId}`, sk: c.id, sent: c.sentAt, body: JSON.stringify(body), ...(this.expireAfter === undefined ? {} : { [TTL_ATTRIBUTE]: ttlAt(c.sentAt + this.expireAfter.agentCommandsMs) }) }), ConditionExpression: 'attribute_not_exists(pk)' }));
      } catch (err) {
        if (!conditionFailed(err)) throw err;
      }
    }
  }

  private static agentCommand(i: Item): AgentCommand {
    const result = str(i, 'result');
    const cancel = num(i, 'cancel');
    return { ...decodeStoredJson(agentCommandSchema, str(i, 'body') ?? '', whereIn(i, 'body')), ...(cancel === undefined ? {} : { cancelRequestedAt: cancel }), ...(result === undefined ? {} : { result: decodeStoredJson(agentCommandResultSchema, result, whereIn(i, 'result')) }) };
  }

  async agentCommands(query: { readonly instanceId?: string; readonly ids?: readonly string[] }): Promise<AgentCommand[]> {
    if (query.instanceId !== undefined) {
      const items = await this.query({ KeyConditionExpression: 'pk = :a', ExpressionAttributeValues: values({ ':a': `A#${query.instanceId}` }) });
      const ids = query.ids === undefined ? null : new Set(query.ids);
      return items.map((i) => DynamoStore.agentCommand(i)).filter((c) => ids === null || ids.has(c.id)).sort((a, b) => a.sentAt - b.sentAt || a.id.localeCompare(b.id));
    }
    if (query.ids === undefined || query.ids.length === 0) return [];
    // Without an instance, the commands are found by scanning the agent-command partitions (the controller asks by
    // handle only for unfinished handles, which are few).
    const wanted = new Set(query.ids);
    const out: AgentCommand[] = [];
    let start: Item | undefined;
    do {
      const r = await this.db.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, FilterExpression: 'begins_with(pk, :a)', ExpressionAttributeValues: values({ ':a': 'A#' }), ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const i of r.Items ?? []) if (wanted.has(str(i, 'sk') ?? '')) out.push(DynamoStore.agentCommand(i));
      start = r.LastEvaluatedKey;
    } while (start !== undefined);
    return out.sort((a, b) => a.sentAt - b.sentAt || a.instanceId.localeCompare(b.instanceId));
  }

  async completeAgentCommand(id: string, instanceId: string, result: AgentCommandResult): Promise<boolean> {
    try {
      await this.db.send(new UpdateItemCommand({ TableName: this.table, Key: keyOf(`A#${instanceId}`, id), UpdateExpression: 'SET #r = :r', ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#r)', ExpressionAttributeNames: { '#r': 'result' }, ExpressionAttributeValues: values({ ':r': JSON.stringify(result) }) }));
      return true;
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
  }

  async cancelAgentCommand(id: string, instanceId: string, at: number): Promise<boolean> {
    try {
      await this.db.send(new UpdateItemCommand({ TableName: this.table, Key: keyOf(`A#${instanceId}`, id), UpdateExpression: 'SET #c = if_not_exists(#c, :c)', ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#r)', ExpressionAttributeNames: { '#c': 'cancel', '#r': 'result' }, ExpressionAttributeValues: values({ ':c': at }) }));
      return true;
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
  }

  async pruneAgentCommands(sentBefore: number): Promise<number> {
    const old: Item[] = [];
    let start: Item | undefined;
    do {
      const r = await this.db.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, FilterExpression: 'begins_with(pk, :a) AND sent < :t', ExpressionAttributeValues: values({ ':a': 'A#', ':t': sentBefore }), ...(start ? { ExclusiveStartKey: start } : {}) }));
      old.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start !== undefined);
    await this.batch(old.map((i) => ({ DeleteRequest: { Key: keyOf(str(i, 'pk') ?? '', str(i, 'sk') ?? '') } })));
    return old.length;
  }

  async requestCancel(r: CancelRequest): Promise<boolean> {
    try {
      await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: `K#${r.group}`, sk: r.execution, body: JSON.stringify(r) }), ConditionExpression: 'attribute_not_exists(pk)' }));
      await this.wakeGroup(r.group);
      return true;
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
  }

  async cancelRequests(group: string): Promise<CancelRequest[]> {
    const items = await this.query({ KeyConditionExpression: 'pk = :k', ExpressionAttributeValues: values({ ':k': `K#${group}` }) });
    return items.map((i) => decodeStoredJson(cancelRequestSchema, str(i, 'body') ?? '', whereIn(i, 'body')));
  }

  async removeCancelRequest(execution: string): Promise<void> {
    await this.db.send(new DeleteItemCommand({ TableName: this.table, Key: keyOf(`K#${execution.split('/')[0] ?? ''}`, execution) }));
  }

  async recordAgentAck(ack: AgentAck): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: item({ pk: `Q#${ack.group}`, sk: ack.instanceId, at: ack.at, body: JSON.stringify(ack) }) }));
    await this.wakeGroup(ack.group);
  }

  async agentAcks(group: string): Promise<Map<string, AgentAck>> {
    const items = await this.query({ KeyConditionExpression: 'pk = :q', ExpressionAttributeValues: values({ ':q': `Q#${group}` }) });
    return new Map(items.map((i) => decodeStoredJson(agentAckSchema, str(i, 'body') ?? '', whereIn(i, 'body'))).map((a) => [a.instanceId, a]));
  }

  close(): Promise<void> {
    this.db.destroy();
    return Promise.resolve();
  }
}
