/**
 * Operators' IAM login (`fleetwarden --iam`, `token login`; controller.operatorIam), on both of the API's transports,
 * with a fake STS that checks every signature with the AWS SDK's signer: the role decides admin or viewer; another
 * role, another account, a replay, or a request signed for another server is refused and nothing is issued; the token
 * stops working at its expiry. On a function URL the server id is the URL's own domain (as AWS gives it); elsewhere
 * it must be configured. The CLI, as a process, logs in with the credentials of its environment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { signCallerIdentity } from '../../src/agent/sigv4.js';
import { ReplayGuard } from '../../src/api/iam-login.js';
import { listen } from '../../src/api/server.js';
import { operatorLogin } from '../../src/cli/iam.js';
import { parseConfigText } from '../../src/config/load.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { runCli } from '../providers/fake-aws.js';
import { fixtureSave } from '../support/fixture-save.js';
import { fakeSts, type StsKey } from '../support/fake-sts.js';
import { type Served, serveApi, TRANSPORTS } from './transports.js';

const ACCOUNT = '111122223333';
const KEYS: Record<string, StsKey> = {
  AKIATESTADMIN0000001: { secret: 'test-secret-admin', token: 'session-admin', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice` },
  AKIATESTVIEWER000001: { secret: 'test-secret-viewer', token: 'session-viewer', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/ReadOnly/bob` },
  AKIATESTDEV000000001: { secret: 'test-secret-dev', token: 'session-dev', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/developer/carol` },
  AKIATESTINSTANCE0001: { secret: 'test-secret-instance', token: 'session-instance', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/i-0123456789abcdef0` },
  AKIATESTFOREIGN00001: { secret: 'test-secret-foreign', token: 'session-foreign', arn: 'arn:aws:sts::999988887777:assumed-role/platform-admin/mallory' },
};
const creds = (key: string) => (): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> => Promise.resolve({ accessKeyId: key, secretAccessKey: KEYS[key]?.secret ?? '', sessionToken: KEYS[key]?.token ?? '' });

const stsSeen: IncomingMessage['headers'][] = [];
const sts: Server = fakeSts(stsSeen, KEYS);
let stsUrl = '';
before(async () => {
  stsUrl = `http://127.0.0.1:${(await listen(sts, '127.0.0.1', 0)).port}/`;
});
after(() => {
  sts.closeAllConnections();
  sts.close();
});

const configText = (serverId: string | null, sts: string): string => `
controller:
  agentIam:
    ${serverId === null ? '' : `serverId: ${serverId}`}
    accounts: ['${ACCOUNT}']
    stsEndpoint: ${sts}
  operatorIam:
    ${serverId === null ? '' : `serverId: ${serverId}`}
    accounts: ['${ACCOUNT}']
    admins: [platform-admin]
    viewers: [ReadOnly]
    stsEndpoint: ${sts}
    tokenTtl: 10m
groups:
  - name: web
    fleets: {main: {min: 1, desired: 2}}
`;

for (const transport of TRANSPORTS) {
  describe(`operator IAM login (${transport})`, () => {
    // On a function URL no server id is configured: the URL's domain is it. Behind node:http one must be.
    const serverId = transport === 'function URL' ? null : 'fleetwarden-prod';
    const store = new SqliteStore(':memory:');
    const clock = { offset: 0, now(): number { return Date.now() + this.offset; } };
    let served: Served;
    let host = '';

    before(async () => {
      const config = parseConfigText(configText(serverId, stsUrl));
      served = await serveApi({ store, config, clock, live: null, operatorIam: { settings: config.controller.operatorIam ?? assert.fail('operatorIam'), replay: new ReplayGuard(), inFlight: 0 }, agentIam: { settings: config.controller.agentIam ?? assert.fail('agentIam'), replay: new ReplayGuard(), inFlight: 0 } }, transport);
      host = new URL(served.base).host;
      await fixtureSave(store, { group: 'web', at: clock.now(), records: [{ instanceId: 'i-0123456789abcdef0', group: 'web', state: 'running', since: clock.now(), reason: 'test' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    });
    after(async () => {
      await served.close();
      await store.close();
    });

    const login = (key: string, o: { serverId?: string } = {}): ReturnType<typeof operatorLogin> => operatorLogin(served.base, { credentials: creds(key), stsEndpoint: stsUrl, serverId: o.serverId ?? serverId ?? undefined });
    const call = async (method: string, path: string, token: string, body?: unknown): Promise<number> => (await fetch(`${served.base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })).status;
    const override = { value: '3', ttl: '1h', reason: 'iam' };

    it('an admin role gets an admin token that changes things; a viewer role a token that only reads', async () => {
      const a = await login('AKIATESTADMIN0000001');
      assert.equal(a.role, 'admin');
      assert.equal(a.who, `platform-admin/alice (${ACCOUNT})`);
      assert.match(a.token, /^fwr_\d+_/);
      assert.equal(await call('PUT', '/v1/groups/web/overrides/fleets.main.desired', a.token, override), 200);
      // `token list` names whose login a token is (only its hash is stored).
      const listed = (await store.tokens()).find((t) => t.label.includes('platform-admin/alice'));
      assert.equal(listed?.role, 'admin');
      assert.ok(!JSON.stringify(await store.tokens()).includes(a.token), 'the token itself is not stored');
      const v = await login('AKIATESTVIEWER000001');
      assert.equal(v.role, 'viewer');
      assert.equal(await call('GET', '/v1/status', v.token), 200);
      assert.equal(await call('DELETE', '/v1/groups/web/overrides/fleets.main.desired', v.token), 403);
      assert.equal(await call('DELETE', '/v1/groups/web/overrides/fleets.main.desired', a.token), 204);
    });

    it('refuses another role, another account, a replay, and a request signed for another server; nothing is issued', async () => {
      const before = (await store.tokens()).length;
      await assert.rejects(login('AKIATESTDEV000000001'), /role developer may not log in \(controller\.operatorIam\.admins, viewers\)/);
      await assert.rejects(login('AKIATESTFOREIGN00001'), /account 999988887777 may not log in/);
      await assert.rejects(login('AKIATESTADMIN0000001', { serverId: 'another-controller' }), /signed for another server/);
      const k = KEYS['AKIATESTADMIN0000001'] ?? assert.fail('key');
      const signed = signCallerIdentity(stsUrl, 'us-east-1', { accessKeyId: 'AKIATESTADMIN0000001', secretAccessKey: k.secret, sessionToken: k.token }, serverId ?? host, clock.now());
      const post = async (): Promise<number> => (await fetch(`${served.base}/v1/auth/operator`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signed) })).status;
      assert.equal(await post(), 200);
      assert.equal(await post(), 401, 'the same signed request twice');
      assert.equal((await store.tokens()).length, before + 1, 'only the good login issued a token');
    });

    it('an agent’s IAM login takes the same server id: the configured one, or on a function URL its own domain', async () => {
      const k = KEYS['AKIATESTINSTANCE0001'] ?? assert.fail('key');
      const agentLogin = async (id: string): Promise<{ status: number; body: Record<string, unknown> }> => {
        const signed = signCallerIdentity(stsUrl, 'us-east-1', { accessKeyId: 'AKIATESTINSTANCE0001', secretAccessKey: k.secret, sessionToken: k.token }, id, clock.now());
        const r = await fetch(`${served.base}/v1/auth/iam`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(signed) });
        return { status: r.status, body: (await r.json()) as Record<string, unknown> };
      };
      assert.equal((await agentLogin('some-other-controller')).status, 401);
      const ok = await agentLogin(serverId ?? host);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body['instance'], 'i-0123456789abcdef0');
    });

    it('a dashboard session opened with an IAM login’s token ends when the token does', async () => {
      const a = await login('AKIATESTADMIN0000001');
      const r = await fetch(`${served.base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: served.origin }, body: JSON.stringify({ token: a.token }) });
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { expiresAt: string }).expiresAt, a.expiresAt, 'not the 8 hours of a session');
      const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const status = async (): Promise<number> => (await fetch(`${served.base}/v1/status`, { headers: { cookie } })).status;
      assert.equal(await status(), 200);
      clock.offset = 10 * 60_000 + 1000;
      try {
        assert.equal(await status(), 401);
      } finally {
        clock.offset = 0;
      }
    });

    it('the token stops working at its expiry (controller.operatorIam.tokenTtl)', async () => {
      const a = await login('AKIATESTADMIN0000001');
      assert.equal(await call('GET', '/v1/status', a.token), 200);
      clock.offset = 10 * 60_000 + 1000;
      try {
        assert.equal(await call('GET', '/v1/status', a.token), 401);
      } finally {
        clock.offset = 0;
      }
    });

    it('the CLI logs in with the AWS credentials of its environment (--iam, token login), and says why when refused', async () => {
      const env = (key: string): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'], HOME: '/nonexistent', AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: KEYS[key]?.secret, AWS_SESSION_TOKEN: KEYS[key]?.token, AWS_REGION: 'eu-west-1', FLEETWARDEN_STS_ENDPOINT: stsUrl, ...(serverId === null ? {} : { FLEETWARDEN_SERVER_ID: serverId }) });
      const status = await runCli(['status', '--url', served.base, '--iam', '--json'], env('AKIATESTVIEWER000001'));
      assert.equal(status.status, 0, status.stderr);
      assert.ok(Array.isArray((JSON.parse(status.stdout) as { instances: unknown[] }).instances));
      const set = await runCli(['override', 'set', 'web', 'fleets.main.desired', '3', '--ttl', '1h', '--reason', 'x', '--url', served.base, '--iam'], env('AKIATESTVIEWER000001'));
      assert.equal(set.status, 2, 'a viewer cannot change anything');
      assert.match(set.stderr, /viewer reads only/);
      const refused = await runCli(['status', '--url', served.base, '--iam'], env('AKIATESTDEV000000001'));
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /--iam: the IAM login was refused: role developer may not log in/);
      assert.doesNotMatch(refused.stderr, /test-secret|session-dev/, 'credentials are never printed');
      const token = await runCli(['token', 'login', '--url', served.base, '--json'], env('AKIATESTADMIN0000001'));
      assert.equal(token.status, 0, token.stderr);
      assert.equal((JSON.parse(token.stdout) as { role: string }).role, 'admin');
    });
  });
}

describe('operator IAM login, configuration', () => {
  it('fleetwarden run refuses to serve IAM logins without a server id (only a function URL has one of its own)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-opiam-'));
    writeFileSync(join(dir, 'fleetwarden.yaml'), `controller:\n  agentIam: {accounts: ['${ACCOUNT}']}\ngroups:\n  - name: web\nsimulator:\n  start: '2026-06-01T01:40:00Z'\n  groups:\n    web: { instances: 1 }\n`);
    const r = await runCli(['run', '--config', join(dir, 'fleetwarden.yaml'), '--state-dir', dir, '--listen', '127.0.0.1:0', '--once'], { PATH: process.env['PATH'] });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /controller\.agentIam\.serverId: is required when the API is served by fleetwarden run/);
  });

  it('needs a role to grant, and each role in one list', () => {
    assert.throws(() => parseConfigText('controller:\n  operatorIam: {accounts: ["111122223333"]}\ngroups:\n  - name: web\n'), /controller\.operatorIam: name at least one role in admins or viewers/);
    assert.throws(() => parseConfigText('controller:\n  operatorIam: {accounts: ["111122223333"], admins: [a], viewers: [a]}\ngroups:\n  - name: web\n'), /controller\.operatorIam\.viewers: role a is also in admins/);
    assert.throws(() => parseConfigText('controller:\n  operatorIam: {accounts: ["1"], admins: [a]}\ngroups:\n  - name: web\n'), /controller\.operatorIam\.accounts\[0\]: expected a 12-digit AWS account id/);
  });

  it('behind node:http without a server id, no operator can log in (404 naming the setting)', async () => {
    const store = new SqliteStore(':memory:');
    const config = parseConfigText(configText(null, stsUrl));
    const served = await serveApi({ store, config, clock: { now: () => Date.now() }, live: null, operatorIam: { settings: config.controller.operatorIam ?? assert.fail('operatorIam'), replay: new ReplayGuard(), inFlight: 0 } }, 'node:http');
    try {
      await assert.rejects(operatorLogin(served.base, { credentials: creds('AKIATESTADMIN0000001'), stsEndpoint: stsUrl }), /controller\.operatorIam\.serverId is not set/);
      assert.equal((await store.tokens()).length, 0);
    } finally {
      await served.close();
      await store.close();
    }
  });
});
