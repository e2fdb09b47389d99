/**
 * Agents' IAM-role login (no secret on the instance), end to end on real HTTP servers: a fake metadata service
 * handing out the role's credentials (the test's own keys, never real ones), the controller's API, and a fake STS
 * that checks each signature with the AWS SDK's own signer and answers GetCallerIdentity as STS does (XML).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { IamAuth } from '../../src/agent/auth.js';
import { agentSettings } from '../../src/agent/cli.js';
import { signCallerIdentity } from '../../src/agent/sigv4.js';
import { ReplayGuard } from '../../src/api/iam-login.js';
import { createApiServer, listen } from '../../src/api/server.js';
import { parseConfigText } from '../../src/config/load.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { fixtureSave } from '../support/fixture-save.js';
import { fakeSts, sdkAuthorization } from '../support/fake-sts.js';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AGENT_BIN = join(ROOT, 'dist/fleetwarden-agent.mjs');
const ACCOUNT = '111122223333';
const WEB = 'i-0123456789abcdef0';
const OTHER = 'i-0fedcba9876543210';
const UNMANAGED = 'i-00000000000000001';
const SERVER_ID = 'fleetwarden-test';

/** The test's own keys: access key id → secret, session token, and the ARN STS answers for them. */
const KEYS: Record<string, { secret: string; token: string; arn: string }> = {
  AKIATESTWEB0000000001: { secret: 'test-secret-web', token: 'session-web', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/${WEB}` },
  AKIATESTUNMANAGED0001: { secret: 'test-secret-unmanaged', token: 'session-unmanaged', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/${UNMANAGED}` },
  AKIATESTFOREIGN000001: { secret: 'test-secret-foreign', token: 'session-foreign', arn: `arn:aws:sts::999988887777:assumed-role/web-role/${WEB}` },
  AKIATESTOTHERROLE0001: { secret: 'test-secret-other', token: 'session-other', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/admin-role/${WEB}` },
  AKIATESTPERSON0000001: { secret: 'test-secret-person', token: 'session-person', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/web-role/alice` },
};

/** A fake IMDSv2 for one instance: its id, its region, and its role's credentials (the key given). */
function fakeImds(instanceId: string, key: string | null): Server {
  return createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      res.end('imds-session');
      return;
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session') {
      res.writeHead(401).end();
      return;
    }
    const creds = key === null ? undefined : KEYS[key];
    const answers: Record<string, string | undefined> = {
      '/latest/meta-data/instance-id': instanceId,
      '/latest/meta-data/placement/region': 'eu-west-1',
      '/latest/meta-data/iam/security-credentials/': key === null ? undefined : 'web-role',
      '/latest/meta-data/iam/security-credentials/web-role': creds === undefined ? undefined : JSON.stringify({ Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: key, SecretAccessKey: creds.secret, Token: creds.token, Expiration: '2999-01-01T00:00:00Z' }),
    };
    const a = answers[req.url ?? ''];
    if (a === undefined) res.writeHead(404).end();
    else res.end(a);
  });
}

async function serve(server: Server): Promise<string> {
  return `http://127.0.0.1:${(await listen(server, '127.0.0.1', 0)).port}`;
}

function close(...servers: Server[]): void {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
}

describe('the agent’s SigV4 signer', () => {
  it('signs GetCallerIdentity exactly as the AWS SDK’s signer does', async () => {
    const at = Date.parse('2026-06-01T10:00:00Z');
    for (const [url, region, token] of [['https://sts.eu-west-1.amazonaws.com/', 'eu-west-1', 'session-token/with+odd=chars'], ['http://127.0.0.1:4566/', 'us-east-1', undefined]] as const) {
      const signed = signCallerIdentity(url, region, { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: token }, 'fw.internal:8080', at);
      const { authorization, 'x-amz-date': _d, 'x-amz-security-token': _t, ...headers } = signed.headers;
      assert.equal(authorization, await sdkAuthorization(url, headers, signed.body, 'AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', token, region, new Date(at)));
      assert.match(authorization, /SignedHeaders=[^,]*x-fleetwarden-nonce;x-fleetwarden-server-id/, 'the audience header and a nonce are signed');
    }
  });
});

describe('IAM login', () => {
  const store = new SqliteStore(':memory:');
  // One clock for the controller and the in-process agents, still and moved by the test; near real time (on a whole
  // second, as signatures are dated) only because the single-file agent of the last test signs with its own clock.
  const clock = { base: Math.floor(Date.now() / 1000) * 1000, offset: 0, now(): number { return this.base + this.offset; } };
  const stsSeen: IncomingMessage['headers'][] = [];
  const sts = fakeSts(stsSeen, KEYS);
  const imdsWeb = fakeImds(WEB, 'AKIATESTWEB0000000001');
  const imdsUnmanaged = fakeImds(UNMANAGED, 'AKIATESTUNMANAGED0001');
  const imdsNoRole = fakeImds(WEB, null);
  let api: Server;
  let apiUrl = '';
  let stsUrl = '';
  const imds: Record<string, string> = {};

  async function login(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await fetch(`${apiUrl}/v1/auth/iam`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  function signed(key: string, o: { url?: string; serverId?: string; at?: number; secret?: string } = {}): ReturnType<typeof signCallerIdentity> {
    const k = KEYS[key] ?? assert.fail(key);
    return signCallerIdentity(o.url ?? stsUrl, 'eu-west-1', { accessKeyId: key, secretAccessKey: o.secret ?? k.secret, sessionToken: k.token }, o.serverId ?? SERVER_ID, o.at ?? clock.now());
  }

  function iamAgent(imdsUrl: string, instanceId: string, log: string[], drains: boolean[] = []): Agent {
    const auth = new IamAuth({ apiUrl, imdsEndpoint: imdsUrl, serverId: SERVER_ID, stsEndpoint: stsUrl, staleContextMs: 300_000, now: () => clock.now(), instanceId });
    return new Agent({ apiUrl, auth, instanceId, firewall: { reconcile: (d) => (drains.push(d), Promise.resolve({ changes: [] })) }, scriptDir: '/nonexistent', eventDir: '/nonexistent', scriptTimeoutMs: 5000, log: { info: (m) => log.push(m), error: (m) => log.push(`ERROR ${m}`) } });
  }

  before(async () => {
    stsUrl = `${await serve(sts)}/`;
    imds['web'] = await serve(imdsWeb);
    imds['unmanaged'] = await serve(imdsUnmanaged);
    imds['none'] = await serve(imdsNoRole);
    const config = parseConfigText(`
preset: clonesquad
controller:
  agentIam:
    serverId: ${SERVER_ID}
    accounts: ['${ACCOUNT}']
    roles: [web-role]
    stsEndpoint: ${stsUrl}
    tokenTtl: 10m
groups:
  - name: web
    fleets: {main: {min: 1}}
`);
    const now = clock.now();
    await fixtureSave(store, { group: 'web', at: now, records: [{ instanceId: WEB, group: 'web', state: 'draining', since: now, reason: 'test' }, { instanceId: OTHER, group: 'web', state: 'running', since: now, reason: 'test' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
    api = createApiServer({ store, config, clock, live: null, agentIam: { settings: config.controller.agentIam ?? assert.fail('agentIam'), replay: new ReplayGuard(), inFlight: 0 } });
    apiUrl = await serve(api);
  });

  after(async () => {
    close(api, sts, imdsWeb, imdsUnmanaged, imdsNoRole);
    await store.close();
  });

  it('an instance proves itself with its role: a token for its own view only; the audience header reaches STS signed', async () => {
    const log: string[] = [];
    const drains: boolean[] = [];
    const agent = iamAgent(imds['web'] ?? '', WEB, log, drains);
    await agent.poll();
    assert.equal(agent.state, 'draining', log.join('\n'));
    assert.deepEqual(drains, [true]);
    assert.equal(stsSeen.at(-1)?.['x-fleetwarden-server-id'], SERVER_ID);
    const token = (await store.tokens()).find((t) => t.instanceId === WEB);
    assert.match(token?.label ?? '', /^iam web-role \(111122223333\) until \d{4}-/);
    const r = await login(signed('AKIATESTWEB0000000001'));
    assert.equal(r.status, 200);
    assert.equal(r.body['instance'], WEB);
    const own = await fetch(`${apiUrl}/v1/instances/${WEB}`, { headers: { authorization: `Bearer ${String(r.body['token'])}` } });
    const other = await fetch(`${apiUrl}/v1/instances/${OTHER}`, { headers: { authorization: `Bearer ${String(r.body['token'])}` } });
    const admin = await fetch(`${apiUrl}/v1/status`, { headers: { authorization: `Bearer ${String(r.body['token'])}` } });
    assert.deepEqual([own.status, other.status, admin.status], [200, 403, 403]);
  });

  it('refused before STS is asked: a replay, a stale or future date, another server’s id, a call other than GetCallerIdentity, a URL that is not STS', async () => {
    const before = stsSeen.length;
    const once = signed('AKIATESTWEB0000000001');
    assert.equal((await login(once)).status, 200);
    const replay = await login(once);
    assert.deepEqual([replay.status, replay.body['error']], [401, { code: 'unauthorized', message: 'this signed request was already used: sign a new one' }]);
    const stale = await login(signed('AKIATESTWEB0000000001', { at: clock.now() - 6 * 60_000 }));
    const future = await login(signed('AKIATESTWEB0000000001', { at: clock.now() + 6 * 60_000 }));
    const elsewhere = await login(signed('AKIATESTWEB0000000001', { serverId: 'another-controller' }));
    const ok = signed('AKIATESTWEB0000000001');
    const otherCall = await login({ ...ok, body: 'Action=AssumeRole&Version=2011-06-15&RoleArn=x' });
    const notSts = await login(signed('AKIATESTWEB0000000001', { url: 'http://169.254.169.254/' }));
    const { 'x-fleetwarden-server-id': _gone, ...unsignedHeaders } = ok.headers;
    const audienceUnsigned = await login({ ...ok, headers: { ...unsignedHeaders, authorization: (ok.headers['authorization'] ?? '').replace(';x-fleetwarden-server-id', '') } });
    assert.deepEqual([stale.status, future.status, elsewhere.status, otherCall.status, notSts.status, audienceUnsigned.status], [401, 401, 401, 400, 400, 400]);
    assert.match((stale.body['error'] as { message: string }).message, /x-amz-date: signed 360 s from this controller's clock/);
    assert.match((elsewhere.body['error'] as { message: string }).message, /signed for another server/);
    assert.match((notSts.body['error'] as { message: string }).message, /169\.254\.169\.254 is not an STS endpoint/);
    assert.match((audienceUnsigned.body['error'] as { message: string }).message, /x-fleetwarden-server-id must be signed/);
    assert.equal(stsSeen.length, before + 1, 'only the one good login reached STS');
  });

  it('refused by STS (a bad signature) and by policy: another account, another role, a session that is not an instance', async () => {
    const forged = await login(signed('AKIATESTWEB0000000001', { secret: 'not-the-secret' }));
    assert.equal(forged.status, 401);
    assert.match((forged.body['error'] as { message: string }).message, /STS refused the signed request: SignatureDoesNotMatch/);
    const answers = await Promise.all(['AKIATESTFOREIGN000001', 'AKIATESTOTHERROLE0001', 'AKIATESTPERSON0000001'].map(async (k) => {
      const r = await login(signed(k));
      return [r.status, (r.body['error'] as { message: string }).message];
    }));
    assert.deepEqual(answers, [
      [403, 'account 999988887777 may not log in (controller.agentIam.accounts)'],
      [403, 'role admin-role may not log in (controller.agentIam.roles)'],
      [403, 'the role session "alice" is not an EC2 instance\'s'],
    ]);
  });

  it('a non-managed instance gets a quiet "not managed"; the agent idles, logs once, and asks again after --stale-context-timeout', async () => {
    const log: string[] = [];
    const drains: boolean[] = [];
    const agent = iamAgent(imds['unmanaged'] ?? '', UNMANAGED, log, drains);
    const before = stsSeen.length;
    await agent.poll();
    await agent.poll();
    assert.deepEqual(log, [`the controller does not manage ${UNMANAGED}: idle; asking again later`]);
    assert.equal(stsSeen.length, before + 1, 'the answer is kept for the stale-context period');
    assert.deepEqual(drains, [], 'the firewall is not touched');
    clock.offset += 300_000;
    await agent.poll();
    assert.equal(stsSeen.length, before + 2);
    assert.equal(log.length, 1, 'still idle: nothing new logged');
    assert.equal((await login(signed('AKIATESTUNMANAGED0001'))).body['status'], 'not-managed');
    clock.offset = 0;
  });

  it('an instance without a role and without a token idles too', async () => {
    const log: string[] = [];
    await iamAgent(imds['none'] ?? '', WEB, log).poll();
    assert.deepEqual(log, ['this instance has no IAM role (instance profile) and no agent token (--token-file): idle; asking again later']);
  });

  it('the token expires (tokenTtl 10m); the agent renews it before, without a gap', async () => {
    const r = await login(signed('AKIATESTWEB0000000001'));
    const token = String(r.body['token']);
    clock.offset = 10 * 60_000 + 1000;
    const late = await fetch(`${apiUrl}/v1/instances/${WEB}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(late.status, 401);
    clock.offset = 0;
    const log: string[] = [];
    const agent = iamAgent(imds['web'] ?? '', WEB, log);
    const before = stsSeen.length;
    for (const minutes of [0, 5, 9, 15, 19]) {
      clock.offset = minutes * 60_000;
      await agent.poll();
    }
    clock.offset = 0;
    assert.deepEqual(log.filter((l) => l.startsWith('ERROR') || l.includes('idle')), [], 'never refused, never idle');
    assert.equal(stsSeen.length, before + 3, 'logged in at 0, renewed at 9 (past 8 = four fifths of 10) and at 19 (past 9 + 8)');
  });

  it('cs-instance-watcher with the seed’s flags and no token logs in with the role (the single-file agent)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-iam-watcher-'));
    const watcher = join(dir, 'cs-instance-watcher');
    symlinkSync(AGENT_BIN, watcher);
    const logFile = join(dir, 'cs-instance-watcher.log');
    // Not spawnSync: the fake servers live in this process and must answer meanwhile.
    await execFileAsync(process.execPath, [watcher, '--log-file', logFile, '--log-file-rotate', 'd,1,10', '--api-url', apiUrl, '--server-id', SERVER_ID, '--imds-endpoint', imds['web'] ?? '', '--sts-endpoint', stsUrl, '--config', '/dev/null', '--once']);
    const text = readFileSync(logFile, 'utf8');
    assert.match(text, /agent \(cs-instance-watcher\) for i-0123456789abcdef0: .* with its IAM role/);
    assert.match(text, /state \(unknown\) → draining/);
  });

  it('configuration: who may log in must include an account; the server id defaults to the agent’s --api-url host', () => {
    assert.throws(() => parseConfigText('controller:\n  agentIam: {serverId: x, roles: [web-role]}\ngroups:\n  - name: web\n    fleets: {main: {min: 1}}\n'), /controller\.agentIam\.accounts/);
    assert.equal(agentSettings(['--api-url', 'http://fw.internal:8080', '--config', '/dev/null']).serverId, 'fw.internal:8080');
  });
});
