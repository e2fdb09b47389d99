import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import type { KeyValue } from '../../config/keys.js';
import type { Override } from '../../config/resolve.js';
import { CONTROLS, type Control, type ControlKind, type InstanceRecord } from '../../domain/model.js';
import { FleetwardenError, LeaseLostError } from '../../domain/errors.js';
import { problemKey, type ReportedProblem } from '../../domain/problems.js';
import { type CancelRequest, isOpen, type WindowExecution } from '../../maintenance/model.js';
import { sqliteDatabase } from './driver.js';
import type { AgentCommand, AgentCommandResult, ApiToken, DashboardSession, GroupState, HistoryEntry, HistoryQuery, Lease, LeaseToken, Store, TickWrite } from '../../ports/index.js';
import type { AgentAck } from '../../domain/agent-ack.js';
import { actionFailureSchema, agentAckSchema, agentCommandResultSchema, agentCommandSchema, cancelRequestSchema, commandHandleSchema, decodeStored, decodeStoredJson, historyDataSchema, historyEntrySchema, instanceRecordSchema, reportedProblemSchema, windowExecutionSchema, workloadRecordSchema } from '../../ports/schemas.js';

/** Schema versions, applied in order inside one transaction each; `PRAGMA user_version` records the last. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE records (instance_id TEXT PRIMARY KEY, grp TEXT NOT NULL, state TEXT NOT NULL, since INTEGER NOT NULL, body TEXT NOT NULL);
   CREATE INDEX records_grp ON records(grp);
   CREATE TABLE workloads (grp TEXT PRIMARY KEY, body TEXT NOT NULL);
   CREATE TABLE handles (id TEXT PRIMARY KEY, grp TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE failures (grp TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE active_windows (grp TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (grp, name));
   CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, grp TEXT NOT NULL, instance_id TEXT, type TEXT NOT NULL, summary TEXT NOT NULL, data TEXT);
   CREATE INDEX history_at ON history(at);
   CREATE INDEX history_instance ON history(instance_id, id);
   CREATE TABLE leases (grp TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
   CREATE TABLE overrides (grp TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (grp, key));
   CREATE TABLE store_values (grp TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (grp, key));
   CREATE TABLE controls (instance_id TEXT NOT NULL, kind TEXT NOT NULL, until INTEGER NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (instance_id, kind));`,
  `CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, instance_id TEXT, created_at INTEGER NOT NULL, label TEXT NOT NULL);
   CREATE TABLE agent_commands (id TEXT NOT NULL, instance_id TEXT NOT NULL, sent_at INTEGER NOT NULL, body TEXT NOT NULL, result TEXT, PRIMARY KEY (instance_id, id));
   CREATE INDEX agent_commands_id ON agent_commands(id);`,
  `CREATE TABLE executions (id TEXT PRIMARY KEY, grp TEXT NOT NULL, start INTEGER NOT NULL, open INTEGER NOT NULL, body TEXT NOT NULL);
   CREATE INDEX executions_open ON executions(grp, open);
   CREATE INDEX executions_start ON executions(start, id);`,
  // Lease generations (fencing tokens) and each group's reported problems.
  `ALTER TABLE leases ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE problems (grp TEXT NOT NULL, key TEXT NOT NULL, since INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (grp, key));`,
  // Operators' cancel requests of window executions (`executions cancel`), until the group's controller takes them.
  `CREATE TABLE cancel_requests (execution TEXT PRIMARY KEY, grp TEXT NOT NULL, body TEXT NOT NULL);
   CREATE INDEX cancel_requests_grp ON cancel_requests(grp);`,
  // Agents' acknowledgements of the drain handshake: the last one of each instance.
  `CREATE TABLE agent_acks (instance_id TEXT PRIMARY KEY, grp TEXT NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL);
   CREATE INDEX agent_acks_grp ON agent_acks(grp);`,
  // Dashboard sessions (by the hash of their id), and the history's filters by type and by group.
  `CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, role TEXT NOT NULL, who TEXT NOT NULL, token_hash TEXT NOT NULL, csrf TEXT NOT NULL, expires_at INTEGER NOT NULL);
   CREATE INDEX sessions_expires ON sessions(expires_at);
   CREATE INDEX history_type ON history(type, id);
   CREATE INDEX history_grp ON history(grp, id);`,
];

/** Pages of WAL (4 KiB each) before SQLite checkpoints it into the database file: 16 MiB (the default is 4 MiB). */
const WAL_CHECKPOINT_PAGES = 4096;

export class StoreError extends FleetwardenError {
  override readonly name: string = 'StoreError';
}

/** A record row, decoded: unknown states read from storage are rejected, never coerced (docs/development.md, rule 3). */
function parseRecord(body: string, instanceId: string): InstanceRecord {
  return decodeStoredJson(instanceRecordSchema, body, `records[${instanceId}]`);
}

/** The window execution of an `executions` row. */
function parseExecution(r: { id: string; body: string }): WindowExecution {
  return decodeStoredJson(windowExecutionSchema, r.body, `executions[${r.id}]`);
}

interface TokenRow {
  hash: string;
  role: string;
  instance_id: string | null;
  created_at: number;
  label: string;
}

function tokenOf(r: TokenRow): ApiToken | null {
  // An unknown role read from storage grants nothing.
  if (r.role !== 'admin' && r.role !== 'viewer' && r.role !== 'agent') return null;
  return { hash: r.hash, role: r.role, instanceId: r.instance_id, createdAt: r.created_at, label: r.label };
}

/* eslint-disable @typescript-eslint/require-await -- the Store port is asynchronous; better-sqlite3 answers at once. */

/** The embedded default store: one SQLite file in WAL mode. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once, reused: preparing costs more than running most of these statements. */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** false: the history is not written (see the constructor). */
  private readonly keepHistory: boolean;

  /**
   * `readOnly` (`fleetwarden plan`): the file must exist and is opened read-only — SQLite itself then refuses every
   * write, so nothing can change it by mistake — and it is not migrated: a store of another schema version is an error.
   * `history: false` (`simulate`'s store, in memory and gone at its end): history entries are not written, as nothing
   * reads them — a tenth of a simulation's time; everything else is, under the same lease checks [true].
   */
  constructor(path: string, options: { readonly readOnly?: boolean; readonly history?: boolean } = {}) {
    this.keepHistory = options.history !== false;
    const Sqlite = sqliteDatabase(); // better-sqlite3 12 or 13, by this Node (driver.ts)
    if (options.readOnly === true) {
      this.db = new Sqlite(path, { readonly: true, fileMustExist: true });
      this.db.pragma('busy_timeout = 5000');
      const version = this.schemaVersion;
      if (version !== MIGRATIONS.length) {
        this.db.close();
        throw new StoreError(`the store ${path} has schema version ${version}, this Fleetwarden ${MIGRATIONS.length}: ${version < MIGRATIONS.length ? "a read-only command does not upgrade it; run 'fleetwarden run' once first" : 'upgrade Fleetwarden'}`);
      }
      return;
    }
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Sqlite(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // Checkpoints (copying the WAL into the file) are where WAL mode syncs to disk. At the default of 1,000 pages
    // (4 MiB) a busy tick of 10,000 instances checkpointed about once a tick, ~30 ms of its time; at 16 MiB the same
    // pages are copied with a quarter of the syncs. What a crash can lose is unchanged (in WAL with synchronous =
    // NORMAL a commit is durable at the next checkpoint or sync; a killed process loses nothing, only a power loss can).
    this.db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const current = this.schemaVersion;
    if (current > MIGRATIONS.length) throw new StoreError(`the store's schema version ${current} is newer than this Fleetwarden (${MIGRATIONS.length}); upgrade Fleetwarden`);
    MIGRATIONS.slice(current).forEach((sql, i) => {
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${current + i + 1}`);
      })();
    });
  }

  async acquireLease(group: string, owner: string, now: number, ttlMs: number): Promise<Lease | null> {
    // One conditional statement: take the lease if free, expired, or already ours. Another owner's (or a released)
    // lease passes on with the next generation; a renewal keeps its generation.
    const row = this
      .stmt(
        `INSERT INTO leases (grp, owner, expires_at, gen) VALUES (?, ?, ?, 1)
         ON CONFLICT(grp) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
           gen = CASE WHEN leases.owner = excluded.owner AND leases.expires_at > 0 THEN leases.gen ELSE leases.gen + 1 END
         WHERE leases.owner = excluded.owner OR leases.expires_at <= ?
         RETURNING owner, gen, expires_at`,
      )
      .get(group, owner, now + ttlMs, now) as { owner: string; gen: number; expires_at: number } | undefined;
    return row === undefined ? null : { group, owner: row.owner, generation: row.gen, expiresAt: row.expires_at };
  }

  async releaseLease(group: string, owner: string): Promise<void> {
    // Kept with its generation: whoever takes the lease next gets a higher one.
    this.stmt('UPDATE leases SET expires_at = 0 WHERE grp = ? AND owner = ?').run(group, owner);
  }

  async leaseHolder(group: string, now: number): Promise<Lease | null> {
    const row = this.stmt('SELECT owner, gen, expires_at FROM leases WHERE grp = ? AND expires_at > ?').get(group, now) as { owner: string; gen: number; expires_at: number } | undefined;
    return row ? { group, owner: row.owner, generation: row.gen, expiresAt: row.expires_at } : null;
  }

  /** Inside a write's transaction: throws (rolling it back) unless `lease` is still the group's. */
  private fence(group: string, lease: LeaseToken): void {
    const row = this.stmt('SELECT owner, gen FROM leases WHERE grp = ?').get(group) as { owner: string; gen: number } | undefined;
    if (row !== undefined && row.owner === lease.owner && row.gen === lease.generation) return;
    throw new LeaseLostError(group, `write by ${lease.owner} (lease generation ${lease.generation}) refused: the lease is ${row === undefined ? 'nobody\'s' : `${row.owner}'s, generation ${row.gen}`}`);
  }

  async loadGroup(group: string): Promise<GroupState> {
    const records = new Map<string, InstanceRecord>();
    for (const row of this.stmt('SELECT instance_id, body FROM records WHERE grp = ?').all(group) as { instance_id: string; body: string }[]) {
      records.set(row.instance_id, parseRecord(row.body, row.instance_id));
    }
    const wl = this.stmt('SELECT body FROM workloads WHERE grp = ?').get(group) as { body: string } | undefined;
    const handles = (this.stmt('SELECT id, body FROM handles WHERE grp = ?').all(group) as { id: string; body: string }[]).map((r) => decodeStoredJson(commandHandleSchema, r.body, `handles[${r.id}]`));
    const failures = (this.stmt('SELECT rowid, body FROM failures WHERE grp = ?').all(group) as { rowid: number; body: string }[]).map((r) => decodeStoredJson(actionFailureSchema, r.body, `failures[${group} rowid ${r.rowid}]`));
    const activeWindows = (this.stmt('SELECT name FROM active_windows WHERE grp = ?').all(group) as { name: string }[]).map((r) => r.name);
    const executions = (this.stmt('SELECT id, body FROM executions WHERE grp = ? AND open = 1 ORDER BY start, id').all(group) as { id: string; body: string }[]).map(parseExecution);
    const problems = await this.problems(group);
    return { records, workload: wl ? decodeStoredJson(workloadRecordSchema, wl.body, `workloads[${group}]`) : undefined, handles, failures, activeWindows, executions, problems };
  }

  async problems(group: string): Promise<ReportedProblem[]> {
    const rows = this.stmt('SELECT key, body FROM problems WHERE grp = ? ORDER BY since, key').all(group) as { key: string; body: string }[];
    return rows.map((r) => decodeStoredJson(reportedProblemSchema, r.body, `problems[${group}/${r.key.replaceAll('\u0000', '/')}]`));
  }

  async saveTick(w: TickWrite): Promise<void> {
    const db = this.db;
    db.transaction(() => {
      this.fence(w.group, w.lease);
      const del = this.stmt('DELETE FROM records WHERE instance_id = ?');
      for (const id of w.removed ?? []) del.run(id);
      const up = this.stmt('INSERT INTO records (instance_id, grp, state, since, body) VALUES (?, ?, ?, ?, ?) ON CONFLICT(instance_id) DO UPDATE SET grp = excluded.grp, state = excluded.state, since = excluded.since, body = excluded.body');
      for (const r of w.records) up.run(r.instanceId, w.group, r.state, r.since, JSON.stringify(r));
      if (w.workload === undefined) this.stmt('DELETE FROM workloads WHERE grp = ?').run(w.group);
      else this.stmt('INSERT INTO workloads (grp, body) VALUES (?, ?) ON CONFLICT(grp) DO UPDATE SET body = excluded.body').run(w.group, JSON.stringify(w.workload));
      const putExec = this.stmt('INSERT OR REPLACE INTO executions (id, grp, start, open, body) VALUES (?, ?, ?, ?, ?)');
      for (const e of w.executions ?? []) putExec.run(e.id, w.group, e.start, isOpen(e) ? 1 : 0, JSON.stringify(e));
      const addHandle = this.stmt('INSERT OR REPLACE INTO handles (id, grp, body) VALUES (?, ?, ?)');
      for (const h of w.newHandles) addHandle.run(h.id, w.group, JSON.stringify(h));
      const dropHandle = this.stmt('DELETE FROM handles WHERE id = ?');
      for (const id of w.finishedHandles) dropHandle.run(id);
      if (w.consumedFailures) this.stmt('DELETE FROM failures WHERE grp = ?').run(w.group);
      const addFailure = this.stmt('INSERT INTO failures (grp, body) VALUES (?, ?)');
      for (const f of w.failures) addFailure.run(w.group, JSON.stringify(f));
      this.stmt('DELETE FROM active_windows WHERE grp = ?').run(w.group);
      const addWindow = this.stmt('INSERT INTO active_windows (grp, name) VALUES (?, ?)');
      for (const name of w.activeWindows) addWindow.run(w.group, name);
      if (w.problems !== undefined) {
        this.stmt('DELETE FROM problems WHERE grp = ?').run(w.group);
        const addProblem = this.stmt('INSERT OR REPLACE INTO problems (grp, key, since, body) VALUES (?, ?, ?, ?)');
        for (const p of w.problems) addProblem.run(w.group, problemKey(p), p.since, JSON.stringify(p));
      }
      this.insertHistory(w.history);
    })();
  }

  private insertHistory(entries: readonly HistoryEntry[]): void {
    if (!this.keepHistory) return;
    const ins = this.stmt('INSERT INTO history (at, grp, instance_id, type, summary, data) VALUES (?, ?, ?, ?, ?, ?)');
    for (const e of entries) ins.run(e.at, e.group, e.instanceId, e.type, e.summary, e.data === undefined ? null : JSON.stringify(e.data));
  }

  async allRecords(): Promise<InstanceRecord[]> {
    return (this.stmt('SELECT instance_id, body FROM records ORDER BY grp, instance_id').all() as { instance_id: string; body: string }[]).map((r) => parseRecord(r.body, r.instance_id));
  }

  async history(q: HistoryQuery): Promise<HistoryEntry[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (clause: string, ...values: (string | number)[]): void => {
      where.push(clause);
      args.push(...values);
    };
    if (q.group !== undefined) add('grp = ?', q.group);
    if (q.instanceId !== undefined) add('instance_id = ?', q.instanceId);
    if (q.types !== undefined) add(`type IN (${q.types.map(() => '?').join(', ') || 'NULL'})`, ...q.types);
    if (q.from !== undefined) add('at >= ?', q.from);
    if (q.to !== undefined) add('at < ?', q.to);
    if (q.before !== undefined) add('id < ?', q.before);
    const sql = `SELECT id, at, grp, instance_id, type, summary, data FROM history ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.stmt(sql).all(...args, q.limit) as { id: number; at: number; grp: string; instance_id: string | null; type: string; summary: string; data: string | null }[];
    return rows.map((r) => {
      const where = `history[${r.id}]`;
      const data = r.data === null ? undefined : decodeStoredJson(historyDataSchema, r.data, `${where}.data`);
      return decodeStored(historyEntrySchema, { id: r.id, at: r.at, group: r.grp, instanceId: r.instance_id, type: r.type, summary: r.summary, ...(data === undefined ? {} : { data }) }, where);
    });
  }

  async appendHistory(entries: readonly HistoryEntry[], lease?: LeaseToken & { readonly group: string }): Promise<void> {
    this.db.transaction(() => {
      if (lease !== undefined) this.fence(lease.group, lease);
      this.insertHistory(entries);
    })();
  }

  async pruneHistory(olderThan: number): Promise<number> {
    return this.stmt('DELETE FROM history WHERE at < ?').run(olderThan).changes;
  }

  async overrides(now: number): Promise<Override[]> {
    const rows = this.stmt('SELECT grp, key, value, expires_at, reason FROM overrides WHERE expires_at > ? ORDER BY created_at').all(now) as { grp: string; key: string; value: string; expires_at: number; reason: string }[];
    return rows.map((r) => ({ group: r.grp, key: r.key, value: JSON.parse(r.value) as KeyValue, expiresAt: r.expires_at, reason: r.reason }));
  }

  async setOverride(o: Override, at: number): Promise<void> {
    this.db.transaction(() => {
      this.stmt('INSERT INTO overrides (grp, key, value, expires_at, reason, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(grp, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, reason = excluded.reason, created_at = excluded.created_at').run(o.group, o.key, JSON.stringify(o.value), o.expiresAt, o.reason, at);
      this.insertHistory([{ at, group: o.group, instanceId: null, type: 'override', summary: `override ${o.key} set until ${new Date(o.expiresAt).toISOString()}: ${o.reason}`, data: { key: o.key, value: o.value } }]);
    })();
  }

  async removeOverride(group: string, key: string): Promise<boolean> {
    return this.stmt('DELETE FROM overrides WHERE grp = ? AND key = ?').run(group, key).changes > 0;
  }

  async storeValues(group: string): Promise<Record<string, KeyValue>> {
    const rows = this.stmt('SELECT key, value FROM store_values WHERE grp = ?').all(group) as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as KeyValue]));
  }

  async setStoreValue(group: string, key: string, value: KeyValue): Promise<void> {
    this.stmt('INSERT INTO store_values (grp, key, value) VALUES (?, ?, ?) ON CONFLICT(grp, key) DO UPDATE SET value = excluded.value').run(group, key, JSON.stringify(value));
  }

  async controls(now: number): Promise<Control[]> {
    const rows = this.stmt('SELECT instance_id, kind, until, reason FROM controls WHERE until > ?').all(now) as { instance_id: string; kind: string; until: number; reason: string }[];
    return rows.flatMap((r) => ((CONTROLS as readonly string[]).includes(r.kind) ? [{ instanceId: r.instance_id, kind: r.kind as ControlKind, until: r.until, reason: r.reason }] : []));
  }

  async setControl(c: Control, at: number): Promise<void> {
    this.stmt('INSERT INTO controls (instance_id, kind, until, reason, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(instance_id, kind) DO UPDATE SET until = excluded.until, reason = excluded.reason, created_at = excluded.created_at').run(c.instanceId, c.kind, c.until, c.reason, at);
  }

  async removeControl(instanceId: string, kind: ControlKind): Promise<boolean> {
    return this.stmt('DELETE FROM controls WHERE instance_id = ? AND kind = ?').run(instanceId, kind).changes > 0;
  }

  async putToken(t: ApiToken): Promise<void> {
    this.stmt('INSERT OR REPLACE INTO tokens (hash, role, instance_id, created_at, label) VALUES (?, ?, ?, ?, ?)').run(t.hash, t.role, t.instanceId, t.createdAt, t.label);
  }

  async tokenByHash(hash: string): Promise<ApiToken | null> {
    const row = this.stmt('SELECT hash, role, instance_id, created_at, label FROM tokens WHERE hash = ?').get(hash) as TokenRow | undefined;
    return row === undefined ? null : tokenOf(row);
  }

  async tokens(): Promise<ApiToken[]> {
    return (this.stmt('SELECT hash, role, instance_id, created_at, label FROM tokens ORDER BY created_at, hash').all() as TokenRow[]).flatMap((r) => tokenOf(r) ?? []);
  }

  async revokeTokens(match: { readonly hash?: string; readonly instanceId?: string; readonly role?: ApiToken['role'] }): Promise<number> {
    return this.stmt('DELETE FROM tokens WHERE (@hash IS NULL OR hash = @hash) AND (@inst IS NULL OR instance_id = @inst) AND (@role IS NULL OR role = @role)').run({ hash: match.hash ?? null, inst: match.instanceId ?? null, role: match.role ?? null }).changes;
  }

  async putSession(x: DashboardSession): Promise<void> {
    this.stmt('INSERT OR REPLACE INTO sessions (id_hash, role, who, token_hash, csrf, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(x.idHash, x.role, x.who, x.tokenHash, x.csrf, x.expiresAt);
  }

  async sessionByHash(idHash: string, now: number): Promise<DashboardSession | null> {
    const r = this.stmt('SELECT id_hash, role, who, token_hash, csrf, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?').get(idHash, now) as { id_hash: string; role: string; who: string; token_hash: string; csrf: string; expires_at: number } | undefined;
    // An unknown role read from storage opens nothing.
    if (r === undefined || (r.role !== 'admin' && r.role !== 'viewer')) return null;
    return { idHash: r.id_hash, role: r.role, who: r.who, tokenHash: r.token_hash, csrf: r.csrf, expiresAt: r.expires_at };
  }

  async removeSession(idHash: string): Promise<boolean> {
    return this.stmt('DELETE FROM sessions WHERE id_hash = ?').run(idHash).changes > 0;
  }

  async pruneSessions(now: number): Promise<number> {
    return this.stmt('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
  }

  async queueAgentCommands(commands: readonly AgentCommand[]): Promise<void> {
    const insert = this.stmt('INSERT OR IGNORE INTO agent_commands (id, instance_id, sent_at, body) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const c of commands) {
        const { result: _result, ...body } = c;
        insert.run(c.id, c.instanceId, c.sentAt, JSON.stringify(body));
      }
    })();
  }

  async agentCommands(query: { readonly instanceId?: string; readonly ids?: readonly string[] }): Promise<AgentCommand[]> {
    const rows: { id: string; instance_id: string; body: string; result: string | null }[] = [];
    if (query.ids !== undefined) {
      const byId = this.stmt('SELECT id, instance_id, body, result FROM agent_commands WHERE id = @id AND (@inst IS NULL OR instance_id = @inst) ORDER BY sent_at, instance_id');
      for (const id of new Set(query.ids)) rows.push(...(byId.all({ id, inst: query.instanceId ?? null }) as typeof rows));
    } else if (query.instanceId !== undefined) {
      rows.push(...(this.stmt('SELECT id, instance_id, body, result FROM agent_commands WHERE instance_id = ? ORDER BY sent_at, id').all(query.instanceId) as typeof rows));
    }
    return rows.map((r) => {
      const where = `agent_commands[${r.instance_id}/${r.id}]`;
      const result = r.result === null ? undefined : decodeStoredJson(agentCommandResultSchema, r.result, `${where}.result`);
      return { ...decodeStoredJson(agentCommandSchema, r.body, `${where}.body`), ...(result === undefined ? {} : { result }) };
    });
  }

  async completeAgentCommand(id: string, instanceId: string, result: AgentCommandResult): Promise<boolean> {
    return this.stmt('UPDATE agent_commands SET result = ? WHERE id = ? AND instance_id = ? AND result IS NULL').run(JSON.stringify(result), id, instanceId).changes > 0;
  }

  async cancelAgentCommand(id: string, instanceId: string, at: number): Promise<boolean> {
    // The mark lives in the command's body, which the agent reads; the first request's time is kept.
    const sql = "UPDATE agent_commands SET body = json_set(body, '$.cancelRequestedAt', coalesce(json_extract(body, '$.cancelRequestedAt'), ?)) WHERE id = ? AND instance_id = ? AND result IS NULL";
    return this.stmt(sql).run(at, id, instanceId).changes > 0;
  }

  async pruneAgentCommands(sentBefore: number): Promise<number> {
    return this.stmt('DELETE FROM agent_commands WHERE sent_at < ?').run(sentBefore).changes;
  }

  async executions(query: { readonly group?: string | undefined; readonly limit: number; readonly before?: string | undefined }): Promise<WindowExecution[]> {
    const before = query.before === undefined ? undefined : (this.stmt('SELECT start, id FROM executions WHERE id = ?').get(query.before) as { start: number; id: string } | undefined);
    if (query.before !== undefined && before === undefined) return [];
    const rows = this.stmt('SELECT id, body FROM executions WHERE (@grp IS NULL OR grp = @grp) AND (@start IS NULL OR start < @start OR (start = @start AND id < @id)) ORDER BY start DESC, id DESC LIMIT @limit').all({ grp: query.group ?? null, start: before?.start ?? null, id: before?.id ?? null, limit: query.limit }) as { id: string; body: string }[];
    return rows.map(parseExecution);
  }

  async execution(id: string): Promise<WindowExecution | null> {
    const row = this.stmt('SELECT id, body FROM executions WHERE id = ?').get(id) as { id: string; body: string } | undefined;
    return row === undefined ? null : parseExecution(row);
  }

  async requestCancel(r: CancelRequest): Promise<boolean> {
    return this.stmt('INSERT OR IGNORE INTO cancel_requests (execution, grp, body) VALUES (?, ?, ?)').run(r.execution, r.group, JSON.stringify(r)).changes > 0;
  }

  async cancelRequests(group: string): Promise<CancelRequest[]> {
    const rows = this.stmt('SELECT execution, body FROM cancel_requests WHERE grp = ? ORDER BY execution').all(group) as { execution: string; body: string }[];
    return rows.map((r) => decodeStoredJson(cancelRequestSchema, r.body, `cancel_requests[${r.execution}]`));
  }

  async removeCancelRequest(execution: string): Promise<void> {
    this.stmt('DELETE FROM cancel_requests WHERE execution = ?').run(execution);
  }

  async recordAgentAck(ack: AgentAck): Promise<void> {
    this.stmt('INSERT OR REPLACE INTO agent_acks (instance_id, grp, at, body) VALUES (?, ?, ?, ?)').run(ack.instanceId, ack.group, ack.at, JSON.stringify(ack));
  }

  async agentAcks(group: string): Promise<Map<string, AgentAck>> {
    const rows = this.stmt('SELECT body FROM agent_acks WHERE grp = ?').all(group) as { body: string }[];
    return new Map(rows.map((r) => decodeStoredJson(agentAckSchema, r.body, `agent_acks[${group}]`)).map((a) => [a.instanceId, a]));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
