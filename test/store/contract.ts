/**
 * The Store port's contract: every implementation (SQLite, DynamoDB) must pass this suite. It is grouped by role
 * (src/ports/index.ts): each group takes only the roles its cases use, so an implementation of some roles runs
 * just those groups; `storeContract` runs them all.
 */
import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceRecord } from '../../src/domain/model.js';
import type { AgentQueue, ExecutionStore, GroupStateStore, HistoryStore, LeaseStore, SessionStore, SettingsStore, Store, TickWrite, TokenStore } from '../../src/ports/index.js';
import type { WindowExecution } from '../../src/maintenance/model.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');

function rec(id: string, state: InstanceRecord['state'], extra: Partial<InstanceRecord> = {}): InstanceRecord {
  return { instanceId: id, group: 'web', state, since: T0, reason: 'test', ...extra };
}

function tick(over: Partial<Omit<TickWrite, 'lease'>> = {}): Omit<TickWrite, 'lease'> {
  return { group: 'web', at: T0, records: [], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [], ...over };
}

/** What a group of cases needs: an implementation of its roles, closed at the end of each case. */
export type Make<R> = () => (R & Closable) | Promise<R & Closable>;
type Closable = Pick<Store, 'close'>;
/** Writing a tick takes the group's lease: whatever saves ticks implements both. */
type TickStore = GroupStateStore & LeaseStore;

/** Every role, on one implementation of the whole Store. */
export function storeContract(name: string, make: Make<Store>): void {
  describe(`Store contract: ${name}`, () => {
    leaseContract(make);
    groupStateContract(make);
    tickContract(make);
    historyContract(make);
    settingsContract(make);
    tokenContract(make);
    sessionContract(make);
    agentQueueContract(make);
    executionContract(make);
  });
}

/** LeaseStore: one owner per group at a time, with a generation that fences stale writers. */
export function leaseContract(make: Make<LeaseStore>): void {
  describe('leases', () => {
    it('leases: one owner at a time, renewable by its owner, taken over once expired, released on request', async () => {
      const s = await make();
      assert.deepEqual((await s.acquireLease('web', 'a', T0, 30_000)), { group: 'web', owner: 'a', generation: 1, expiresAt: T0 + 30_000 });
      assert.equal((await s.acquireLease('web', 'b', T0 + 10_000, 30_000)), null);
      assert.deepEqual((await s.acquireLease('web', 'a', T0 + 20_000, 30_000)), { group: 'web', owner: 'a', generation: 1, expiresAt: T0 + 50_000 }, 'renewed, same generation');
      assert.equal((await s.acquireLease('web', 'b', T0 + 49_000, 30_000)), null, 'the renewal extended it');
      assert.equal((await s.acquireLease('web', 'b', T0 + 50_000, 30_000))?.generation, 2, 'expired: taken over with the next generation');
      assert.deepEqual((await s.leaseHolder('web', T0 + 51_000)), { group: 'web', owner: 'b', generation: 2, expiresAt: T0 + 80_000 });
      assert.equal((await s.acquireLease('api', 'a', T0, 30_000))?.generation, 1, 'leases are per group');
      await s.releaseLease('web', 'b');
      assert.equal((await s.leaseHolder('web', T0 + 51_000)), null);
      assert.equal((await s.acquireLease('web', 'a', T0 + 52_000, 30_000))?.generation, 3, 'after a release, the next holder still gets a higher generation');
      await s.releaseLease('web', 'a');
      assert.equal((await s.acquireLease('web', 'a', T0 + 53_000, 30_000))?.generation, 4, 'even the same owner, once it released the lease');
      await s.close();
    });
  });
}

/** GroupStateStore: what a tick saves is what the next one loads (ticks are written under a lease: with LeaseStore). */
export function groupStateContract(make: Make<TickStore>): void {
  describe('group state', () => {
    it('a tick write round-trips records, workload, handles, failures and active windows', async () => {
      const s = await make();
      const handle = { id: 'cmd-1', kind: 'event' as const, group: 'web', instanceIds: ['i-1'], event: 'instance-ready-for-operation' as const, sentAt: T0 };
      await fixtureSave(s, 
        tick({
          records: [rec('i-1', 'running', { issueSince: T0 - 5 }), rec('i-2', 'draining', { drainCause: 'issue', deregisteredFrom: ['tg'] })],
          workload: { group: 'web', direction: 'stop', since: T0, tierStartedAt: { DB: T0 } },
          newHandles: [handle],
          failures: [{ instanceId: 'i-3', action: 'start', at: T0, detail: 'capacity' }],
          activeWindows: ['FW-web'],
        }),
      );
      const g = (await s.loadGroup('web'));
      assert.deepEqual([...g.records.values()].sort((a, b) => a.instanceId.localeCompare(b.instanceId)), [rec('i-1', 'running', { issueSince: T0 - 5 }), rec('i-2', 'draining', { drainCause: 'issue', deregisteredFrom: ['tg'] })]);
      assert.deepEqual(g.workload, { group: 'web', direction: 'stop', since: T0, tierStartedAt: { DB: T0 } });
      assert.deepEqual(g.handles, [handle]);
      assert.deepEqual(g.failures, [{ instanceId: 'i-3', action: 'start', at: T0, detail: 'capacity' }]);
      assert.deepEqual(g.activeWindows, ['FW-web']);
      assert.deepEqual((await s.loadGroup('other')).records.size, 0, 'groups are separate');
      await s.close();
    });

    it('a group state too big for one DynamoDB item (3,000 problems and 3,000 failures: ~1.2 MB) round-trips, then small again', async () => {
      const s = await make();
      const id = (i: number): string => `i-${i.toString(16).padStart(17, '0')}`;
      const problems = Array.from({ length: 3000 }, (_, i) => ({ source: 'instance' as const, subject: id(i), field: 'fleetwarden:subfleet-name', value: 'batch jobs!', reason: 'not a subfleet name; instance left alone until fixed', since: T0 }));
      const failures = Array.from({ length: 3000 }, (_, i) => ({ instanceId: id(i), action: 'start' as const, at: T0, detail: 'InsufficientInstanceCapacity: no capacity in the zone for this instance type' }));
      const handle = { id: 'cmd-1', kind: 'event' as const, group: 'web', instanceIds: ['i-1'], event: 'instance-ready-for-operation' as const, sentAt: T0 };
      const workload = { group: 'web', direction: 'start' as const, since: T0, tierStartedAt: { DB: T0 } };
      await fixtureSave(s, tick({ records: [rec('i-1', 'running')], problems, failures, newHandles: [handle], workload, activeWindows: ['FW-web'] }));
      const big = await s.loadGroup('web');
      assert.deepEqual([big.problems, big.failures, big.handles, big.workload, big.activeWindows], [problems, failures, [handle], workload, ['FW-web']]);
      assert.deepEqual(await s.problems('web'), problems);
      // A tick that leaves problems as they are (none given) keeps them; one that consumes failures drops them.
      await fixtureSave(s, tick({ records: [rec('i-1', 'draining')], finishedHandles: ['cmd-1'], workload, activeWindows: [] }));
      const kept = await s.loadGroup('web');
      assert.deepEqual([kept.problems.length, kept.failures.length, kept.handles, kept.records.get('i-1')?.state], [3000, 3000, [], 'draining']);
      await fixtureSave(s, tick({ problems: problems.slice(0, 2), consumedFailures: true, activeWindows: ['FW-web'] }));
      const small = await s.loadGroup('web');
      assert.deepEqual([small.problems, small.failures, small.workload, small.activeWindows], [problems.slice(0, 2), [], undefined, ['FW-web']]);
      await s.close();
    });

    it('a later tick upserts records, deletes the removed ones, finishes handles and consumes failures', async () => {
      const s = await make();
      await fixtureSave(s, tick({ records: [rec('i-1', 'running'), rec('i-2', 'running')], newHandles: [{ id: 'cmd-1', kind: 'bypass', group: 'web', instanceIds: ['i-1'], sentAt: T0 }], failures: [{ instanceId: 'i-1', action: 'stop', at: T0, detail: 'x' }] }));
      await fixtureSave(s, tick({ records: [rec('i-1', 'draining')], removed: ['i-2'], finishedHandles: ['cmd-1'], consumedFailures: true }));
      const g = (await s.loadGroup('web'));
      assert.deepEqual([...g.records.keys()], ['i-1']);
      assert.equal(g.records.get('i-1')?.state, 'draining');
      assert.deepEqual(g.handles, []);
      assert.deepEqual(g.failures, []);
      assert.equal(g.workload, undefined);
      await fixtureSave(s, tick({ records: [rec('i-3', 'stopped')] }));
      assert.deepEqual([...(await s.loadGroup('web')).records.keys()].sort(), ['i-1', 'i-3'], 'records not named are left as they are');
      await s.close();
    });
  });
}

/** A tick across roles: its state and history are written whole, and only under the group's current lease. */
export function tickContract(make: Make<TickStore & HistoryStore>): void {
  describe('ticks (group state and history under a lease)', () => {
    it('the lease fences writes: a tick or history under a lost lease is refused whole, under the current one accepted', async () => {
      const s = await make();
      const a = await s.acquireLease('web', 'a', T0, 30_000);
      assert.ok(a);
      await s.saveTick({ ...tick({ records: [rec('i-1', 'running')] }), lease: a });
      const b = await s.acquireLease('web', 'b', T0 + 30_000, 30_000); // a's lease lapsed: b takes over
      assert.ok(b);
      await assert.rejects(s.saveTick({ ...tick({ records: [rec('i-1', 'stopping')], history: [{ at: T0, group: 'web', instanceId: 'i-1', type: 'transition', summary: 'stale' }] }), lease: a }), (err: Error) => err.name === 'LeaseLostError' && /generation 1.*b's, generation 2/.test(err.message));
      await assert.rejects(s.appendHistory([{ at: T0, group: 'web', instanceId: null, type: 'error', summary: 'stale too' }], a), { name: 'LeaseLostError' });
      assert.equal((await s.loadGroup('web')).records.get('i-1')?.state, 'running', 'nothing of the stale write is visible');
      assert.deepEqual((await s.history({ group: 'web', limit: 10 })).map((h) => h.summary), []);
      const renewedByA = await s.acquireLease('web', 'a', T0 + 70_000, 30_000); // b lapsed too: a is back, generation 3
      assert.equal(renewedByA?.generation, 3);
      await assert.rejects(s.saveTick({ ...tick(), lease: a }), { name: 'LeaseLostError' }, 'the same owner with its old generation is refused too');
      await s.saveTick({ ...tick({ records: [rec('i-1', 'draining')], problems: [{ source: 'instance', subject: 'i-9', field: 'fleetwarden:subfleet-name', value: 'a.b', reason: 'bad', since: T0 }] }), lease: renewedByA });
      const g = await s.loadGroup('web');
      assert.equal(g.records.get('i-1')?.state, 'draining');
      assert.deepEqual(g.problems, [{ source: 'instance', subject: 'i-9', field: 'fleetwarden:subfleet-name', value: 'a.b', reason: 'bad', since: T0 }], 'problems round-trip');
      assert.deepEqual(await s.problems('web'), g.problems, 'and read on their own');
      await s.saveTick({ ...tick(), lease: renewedByA });
      assert.equal((await s.loadGroup('web')).problems.length, 1, 'a write without problems keeps them');
      await s.saveTick({ ...tick({ problems: [] }), lease: renewedByA });
      assert.deepEqual((await s.loadGroup('web')).problems, [], 'an empty list clears them');
      await s.close();
    });

    it('a tick write is all or nothing', async () => {
      const s = await make();
      await fixtureSave(s, tick({ records: [rec('i-1', 'running')] }));
      const poisoned = { ...rec('i-2', 'running'), bad: 10n } as unknown as InstanceRecord; // BigInt cannot be serialised
      await assert.rejects(fixtureSave(s, tick({ records: [rec('i-1', 'draining'), poisoned], history: [{ at: T0, group: 'web', instanceId: null, type: 'error', summary: 'x' }] })));
      assert.equal((await s.loadGroup('web')).records.get('i-1')?.state, 'running', 'the first record of the failed tick was not kept');
      assert.deepEqual((await s.history({ limit: 5 })), []);
      await s.close();
    });
  });
}

/** HistoryStore (entries come from ticks too: with the roles that write one). */
export function historyContract(make: Make<HistoryStore & TickStore>): void {
  describe('history', () => {
    it('history is append-only, newest first, pages with `before` and filters by group and instance', async () => {
      const s = await make();
      await fixtureSave(s, tick({ history: [1, 2, 3].map((n) => ({ at: T0 + n, group: 'web', instanceId: n === 2 ? 'i-2' : null, type: 'transition' as const, summary: `entry ${n}` })) }));
      await s.appendHistory([{ at: T0 + 4, group: 'api', instanceId: null, type: 'window', summary: 'entry 4' }]);
      const all = (await s.history({ limit: 10 }));
      assert.deepEqual(all.map((e) => e.summary), ['entry 4', 'entry 3', 'entry 2', 'entry 1']);
      const page = (await s.history({ limit: 2, before: all[1]?.id }));
      assert.deepEqual(page.map((e) => e.summary), ['entry 2', 'entry 1']);
      assert.deepEqual((await s.history({ limit: 10, instanceId: 'i-2' })).map((e) => e.summary), ['entry 2']);
      assert.deepEqual((await s.history({ limit: 10, group: 'api' })).map((e) => e.summary), ['entry 4']);
      await s.close();
    });

    it('history filters by type and time range in the query, so a page is full and paging on stays correct', async () => {
      const s = await make();
      // 30 entries, one a minute: every third is a window, the rest alternate transition/override; i-1 on the even ones.
      const types = ['window', 'transition', 'override'] as const;
      await s.appendHistory(Array.from({ length: 30 }, (_, n) => ({ at: T0 + n * 60_000, group: n < 15 ? 'web' : 'api', instanceId: n % 2 === 0 ? 'i-1' : null, type: types[n % 3] ?? 'window', summary: `e${n}` })));
      const windows = await s.history({ limit: 4, types: ['window'] });
      assert.deepEqual(windows.map((e) => e.summary), ['e27', 'e24', 'e21', 'e18'], 'a full page of the type, however sparse');
      const next = await s.history({ limit: 4, types: ['window'], before: windows.at(-1)?.id });
      assert.deepEqual(next.map((e) => e.summary), ['e15', 'e12', 'e9', 'e6']);
      assert.deepEqual((await s.history({ limit: 50, types: ['window', 'override'], group: 'web', instanceId: 'i-1' })).map((e) => e.summary), ['e14', 'e12', 'e8', 'e6', 'e2', 'e0']);
      assert.deepEqual((await s.history({ limit: 50, from: T0 + 10 * 60_000, to: T0 + 13 * 60_000 })).map((e) => e.summary), ['e12', 'e11', 'e10'], 'from is inclusive, to is not');
      const ranged = await s.history({ limit: 2, types: ['transition'], from: T0 + 5 * 60_000, to: T0 + 20 * 60_000 });
      assert.deepEqual(ranged.map((e) => e.summary), ['e19', 'e16']);
      assert.deepEqual((await s.history({ limit: 2, types: ['transition'], from: T0 + 5 * 60_000, to: T0 + 20 * 60_000, before: ranged.at(-1)?.id })).map((e) => e.summary), ['e13', 'e10']);
      assert.deepEqual(await s.history({ limit: 5, types: [] }), [], 'no type asked: nothing');
      await s.close();
    });

    it('history is pruned by age', async () => {
      const s = await make();
      await fixtureSave(s, tick({ history: [1, 2, 3].map((n) => ({ at: T0 + n, group: 'web', instanceId: n === 2 ? 'i-2' : null, type: 'transition' as const, summary: `entry ${n}` })) }));
      await s.appendHistory([{ at: T0 + 4, group: 'api', instanceId: null, type: 'window', summary: 'entry 4' }]);
      assert.equal((await s.pruneHistory(T0 + 3)), 2);
      assert.deepEqual((await s.history({ limit: 10 })).map((e) => e.summary), ['entry 4', 'entry 3']);
      await s.close();
    });
  });
}

/** SettingsStore: overrides, controls and store values (an override is recorded in the history: with HistoryStore). */
export function settingsContract(make: Make<SettingsStore & HistoryStore>): void {
  describe('settings', () => {
    it('overrides and controls apply until they expire; store values persist; all can be removed', async () => {
      const s = await make();
      await s.setOverride({ group: 'web', key: 'fleets.main.desired', value: { kind: 'percent', value: 50 }, expiresAt: T0 + 1000, reason: 'load test' }, T0);
      await s.setControl({ instanceId: 'i-1', kind: 'unstoppable', until: T0 + 1000, reason: 'debug' }, T0);
      await s.setStoreValue('web', 'caps.startsPerTick', 3);
      assert.deepEqual((await s.overrides(T0 + 999)), [{ group: 'web', key: 'fleets.main.desired', value: { kind: 'percent', value: 50 }, expiresAt: T0 + 1000, reason: 'load test' }]);
      assert.deepEqual((await s.overrides(T0 + 1000)), []);
      assert.deepEqual((await s.controls(T0 + 999)), [{ instanceId: 'i-1', kind: 'unstoppable', until: T0 + 1000, reason: 'debug' }]);
      assert.deepEqual((await s.controls(T0 + 1000)), []);
      assert.deepEqual((await s.storeValues('web')), { 'caps.startsPerTick': 3 });
      assert.equal((await s.removeOverride('web', 'fleets.main.desired')), true);
      assert.equal((await s.removeControl('i-1', 'unstoppable')), true);
      assert.equal((await s.removeControl('i-1', 'unstoppable')), false);
      assert.ok((await s.history({ limit: 5 })).some((h) => h.type === 'override' && /load test/.test(h.summary)), 'overrides are recorded in history');
      await s.close();
    });
  });
}

/** TokenStore: API credentials by hash. */
export function tokenContract(make: Make<TokenStore>): void {
  describe('tokens', () => {
    it('tokens are found by hash, listed, and revoked by hash, instance or role', async () => {
      const s = await make();
      await s.putToken({ hash: 'aa', role: 'admin', instanceId: null, createdAt: T0, label: 'admin' });
      await s.putToken({ hash: 'bb', role: 'agent', instanceId: 'i-1', createdAt: T0 + 1, label: 'agent i-1' });
      await s.putToken({ hash: 'cc', role: 'agent', instanceId: 'i-2', createdAt: T0 + 2, label: 'agent i-2' });
      assert.deepEqual(await s.tokenByHash('bb'), { hash: 'bb', role: 'agent', instanceId: 'i-1', createdAt: T0 + 1, label: 'agent i-1' });
      assert.equal(await s.tokenByHash('zz'), null);
      assert.deepEqual((await s.tokens()).map((t) => t.hash), ['aa', 'bb', 'cc']);
      assert.equal(await s.revokeTokens({ instanceId: 'i-1' }), 1);
      assert.equal(await s.tokenByHash('bb'), null);
      assert.equal(await s.revokeTokens({ role: 'agent' }), 1);
      assert.deepEqual((await s.tokens()).map((t) => t.hash), ['aa']);
      await s.close();
    });
  });
}

/** SessionStore: dashboard sessions by the hash of their id, refused once expired, pruned by expiry. */
export function sessionContract(make: Make<SessionStore>): void {
  describe('sessions', () => {
    it('sessions are found by hash until they expire, removed on sign-out, and pruned once expired', async () => {
      const s = await make();
      const a = { idHash: 'a'.repeat(64), role: 'admin' as const, who: 'admin token', tokenHash: 'd'.repeat(64), csrf: 'csrf-a', expiresAt: T0 + 1000 };
      const v = { idHash: 'b'.repeat(64), role: 'viewer' as const, who: 'viewer token (ops)', tokenHash: 'e'.repeat(64), csrf: 'csrf-b', expiresAt: T0 + 5000 };
      await s.putSession(a);
      await s.putSession(v);
      assert.deepEqual(await s.sessionByHash(a.idHash, T0), a);
      assert.deepEqual(await s.sessionByHash(a.idHash, T0 + 999), a);
      assert.equal(await s.sessionByHash(a.idHash, T0 + 1000), null, 'expired: refused even before it is pruned');
      assert.equal(await s.sessionByHash('c'.repeat(64), T0), null);
      assert.equal(await s.pruneSessions(T0 + 1000), 1, 'only the expired one');
      assert.deepEqual(await s.sessionByHash(v.idHash, T0 + 1000), v);
      assert.equal(await s.removeSession(v.idHash), true);
      assert.equal(await s.removeSession(v.idHash), false, 'already signed out');
      assert.equal(await s.sessionByHash(v.idHash, T0), null);
      assert.equal(await s.pruneSessions(T0 + 10_000), 0);
      await s.close();
    });
  });
}

/** AgentQueue: agents' commands and acknowledgements. */
export function agentQueueContract(make: Make<AgentQueue>): void {
  describe('agent queue', () => {
    it('agent commands are queued once, listed per instance or id, completed once, and pruned by age', async () => {
      const s = await make();
      const cmd = (id: string, instanceId: string, sentAt: number) => ({ id, instanceId, group: 'web', kind: 'event' as const, event: 'instance-ready-for-shutdown' as const, args: ['a b', "it's"], timeoutMs: 30_000, sentAt });
      await s.queueAgentCommands([cmd('c1', 'i-1', T0), cmd('c1', 'i-2', T0), cmd('c2', 'i-1', T0 + 5)]);
      await s.queueAgentCommands([{ ...cmd('c1', 'i-1', T0), args: ['changed'] }]);
      assert.deepEqual((await s.agentCommands({ instanceId: 'i-1' })).map((c) => [c.id, c.args]), [['c1', ['a b', "it's"]], ['c2', ['a b', "it's"]]], 'queued once: a repeat changes nothing');
      assert.deepEqual((await s.agentCommands({ ids: ['c1'] })).map((c) => c.instanceId).sort(), ['i-1', 'i-2']);
      const result = { at: T0 + 10, outcome: 'success' as const, exitCode: 0, output: 'ok' };
      assert.equal(await s.completeAgentCommand('c1', 'i-2', result), true);
      assert.equal(await s.completeAgentCommand('c1', 'i-2', { ...result, outcome: 'failed' }), false, 'a result is recorded once');
      assert.equal(await s.completeAgentCommand('c9', 'i-2', result), false, 'unknown command');
      assert.deepEqual((await s.agentCommands({ instanceId: 'i-2' }))[0]?.result, result);
      assert.equal((await s.agentCommands({ instanceId: 'i-1' }))[0]?.result, undefined);
      assert.equal(await s.pruneAgentCommands(T0 + 1), 2);
      assert.deepEqual((await s.agentCommands({ instanceId: 'i-1' })).map((c) => c.id), ['c2']);
      await s.close();
    });

    it('an agent command can be marked for cancelling until it has a result; the first mark stands', async () => {
      const s = await make();
      const script = { id: 'mw-1', instanceId: 'i-1', group: 'web', kind: 'script' as const, args: [], script: 'sleep 600', mayRerun: false, timeoutMs: 600_000, sentAt: T0 };
      await s.queueAgentCommands([script, { ...script, id: 'mw-2' }]);
      assert.equal(await s.cancelAgentCommand('mw-1', 'i-1', T0 + 5), true);
      assert.equal(await s.cancelAgentCommand('mw-1', 'i-1', T0 + 9), true, 'asking again is harmless');
      assert.equal(await s.cancelAgentCommand('mw-9', 'i-1', T0 + 5), false, 'unknown command');
      assert.equal(await s.completeAgentCommand('mw-2', 'i-1', { at: T0 + 1, outcome: 'success', exitCode: 0, output: '' }), true);
      assert.equal(await s.cancelAgentCommand('mw-2', 'i-1', T0 + 5), false, 'it already has a result');
      const [one, two] = await s.agentCommands({ instanceId: 'i-1' });
      assert.deepEqual([one?.id, one?.cancelRequestedAt, one?.script], ['mw-1', T0 + 5, 'sleep 600']);
      assert.equal(two?.cancelRequestedAt, undefined);
      assert.equal((await s.agentCommands({ ids: ['mw-1'] }))[0]?.cancelRequestedAt, T0 + 5, 'found by id too');
      await s.close();
    });

    it("agents' acknowledgements: the last one of each instance is kept, listed per group", async () => {
      const s = await make();
      const ack = { instanceId: 'i-1', group: 'web', version: 'm-1-open-fail', ports: 'open' as const, health: 'fail' as const, state: 'running', at: T0 };
      await s.recordAgentAck(ack);
      await s.recordAgentAck({ ...ack, instanceId: 'i-2', group: 'api' });
      const later = { ...ack, version: 'm-2-blocked-fail', ports: 'blocked' as const, hooks: [{ name: 'take-out', outcome: 'exit 0' }], at: T0 + 5 };
      await s.recordAgentAck(later);
      assert.deepEqual([...(await s.agentAcks('web')).entries()], [['i-1', later]]);
      assert.deepEqual([...(await s.agentAcks('api')).keys()], ['i-2']);
      assert.equal((await s.agentAcks('nope')).size, 0);
      await s.close();
    });
  });
}

/** ExecutionStore: window executions (saved with a tick: with the roles that write one) and cancel requests. */
export function executionContract(make: Make<ExecutionStore & TickStore>): void {
  describe('executions', () => {
    it('cancel requests: recorded once per execution, listed per group, removed when taken', async () => {
      const s = await make();
      const r = { execution: 'web/FW/2026-06-01T00:00:00Z', group: 'web', by: "cli o'neil@host", reason: 'broken', at: T0 };
      assert.equal(await s.requestCancel(r), true);
      assert.equal(await s.requestCancel({ ...r, by: 'api admin', at: T0 + 5 }), false, 'the first request stands');
      await s.requestCancel({ ...r, execution: 'api/FW/2026-06-01T00:00:00Z', group: 'api' });
      assert.deepEqual(await s.cancelRequests('web'), [r]);
      await s.removeCancelRequest(r.execution);
      assert.deepEqual(await s.cancelRequests('web'), []);
      assert.equal((await s.cancelRequests('api')).length, 1);
      await s.close();
    });

    it('window executions are saved with the tick, loaded while open or holding an instance out, listed newest first', async () => {
      const s = await make();
      const exec = (id: string, start: number, status: WindowExecution['status'], outOfService = false): WindowExecution => ({
        id: `web/FW/${id}`, group: 'web', window: 'FW', start, end: start + 3_600_000, lastTaskStart: start + 3_600_000, status, startedAt: start,
        tasks: [{ name: 'patch', priority: 1, status: status === 'IN_PROGRESS' ? 'IN_PROGRESS' : 'FAILED', targets: ['i-1'], terminated: [], detail: '', invocations: [{ target: 'i-1', status: 'FAILED', phase: 'done', phaseSince: start, startedAt: start, runs: 1, outOfService, detail: 'exit 1', output: "it's" }] }],
      });
      await fixtureSave(s, tick({ executions: [exec('a', T0, 'IN_PROGRESS'), exec('b', T0 + 1, 'SUCCESS'), exec('c', T0 + 2, 'FAILED', true)] }));
      assert.deepEqual((await s.loadGroup('web')).executions.map((e) => e.id), ['web/FW/a', 'web/FW/c'], 'open ones, and one holding i-1 out of service');
      await fixtureSave(s, tick({ executions: [exec('a', T0, 'SUCCESS')] }));
      assert.deepEqual((await s.loadGroup('web')).executions.map((e) => e.id), ['web/FW/c']);
      assert.deepEqual((await s.executions({ limit: 10 })).map((e) => [e.id, e.status]), [['web/FW/c', 'FAILED'], ['web/FW/b', 'SUCCESS'], ['web/FW/a', 'SUCCESS']]);
      assert.deepEqual((await s.executions({ limit: 1, before: 'web/FW/c' })).map((e) => e.id), ['web/FW/b']);
      assert.deepEqual(await s.executions({ limit: 5, group: 'api' }), []);
      assert.deepEqual(await s.execution('web/FW/c'), exec('c', T0 + 2, 'FAILED', true));
      assert.equal(await s.execution('web/FW/zz'), null);
      // A cancelled one keeps who cancelled it, the window's description and the targets skipped after a failure.
      const cancelled: WindowExecution = { ...exec('d', T0 + 3, 'CANCELLED'), description: 'Daily patch', cancel: { execution: 'web/FW/d', group: 'web', by: 'api admin', reason: 'stop', at: T0 + 4 }, tasks: [{ ...exec('d', T0 + 3, 'CANCELLED').tasks[0]!, status: 'CANCELLED', skipped: ['i-2'] }] };
      await fixtureSave(s, tick({ executions: [cancelled] }));
      assert.deepEqual(await s.execution('web/FW/d'), cancelled);
      await s.close();
    });

    it('a window execution over a big fleet saves and loads whole: 2,000 invocations, each with its 2,500 characters of output (~5 MB)', async () => {
      const s = await make();
      const output = (i: number): string => `i-${String(i).padStart(5, '0')} `.repeat(320).slice(0, 2500);
      const big = (status: WindowExecution['status'], runs: number): WindowExecution => ({
        id: 'web/FW/big', group: 'web', window: 'FW', start: T0, end: T0 + 3_600_000, lastTaskStart: T0 + 3_600_000, status, startedAt: T0,
        tasks: [{ name: 'patch', priority: 1, status: status === 'IN_PROGRESS' ? 'IN_PROGRESS' : 'SUCCESS', targets: Array.from({ length: 2000 }, (_, i) => `i-${i}`), terminated: [], detail: '',
          invocations: Array.from({ length: 2000 }, (_, i) => ({ target: `i-${i}`, status: 'SUCCESS' as const, phase: 'done' as const, phaseSince: T0, startedAt: T0, runs, outOfService: false, detail: 'exit 0', exitCode: 0, output: output(i) })) }],
      });
      assert.ok(JSON.stringify(big('IN_PROGRESS', 1)).length > 5_000_000, 'over DynamoDB’s 400 KB item limit many times');
      await fixtureSave(s, tick({ executions: [big('IN_PROGRESS', 1)] }));
      assert.deepEqual((await s.loadGroup('web')).executions, [big('IN_PROGRESS', 1)]);
      // A later tick writes it again (smaller or larger), and only the latest reads back.
      await fixtureSave(s, tick({ executions: [big('SUCCESS', 2)] }));
      assert.deepEqual(await s.execution('web/FW/big'), big('SUCCESS', 2));
      assert.deepEqual((await s.executions({ limit: 5 })).map((e) => [e.id, e.status, e.tasks[0]?.invocations[1999]?.runs]), [['web/FW/big', 'SUCCESS', 2]]);
      assert.deepEqual((await s.loadGroup('web')).executions, [], 'ended: no longer loaded with the group');
      await s.close();
    });
  });
}
