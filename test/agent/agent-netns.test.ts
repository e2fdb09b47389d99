/**
 * The single-file agent for real, as root: it runs inside an instance's network namespace with a TCP service on
 * port 8080, polls a real API served by this test, and blocks new connections with real iptables while the
 * controller says draining — established connections continue, an unreachable controller changes nothing, and the
 * rules go when the state leaves draining.
 */
import { fixtureSave } from '../support/fixture-save.js';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CHAIN } from '../../src/agent/firewall.js';
import { createApiServer, listen } from '../../src/api/server.js';
import { hashToken, issueToken } from '../../src/api/services.js';
import { parseConfigText } from '../../src/config/load.js';
import type { InstanceRecord } from '../../src/domain/model.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { AS_ROOT, IPROUTE2, IPTABLES, requirements } from '../support/requirements.js';
import { InstanceNs, openEcho, probe, startEchoServer, waitFor } from './netns.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AGENT_BIN = join(ROOT, 'dist/fleetwarden-agent.mjs');
const PORT = 8080;

describe('the agent in a network namespace with real iptables', requirements(AS_ROOT, IPTABLES, IPROUTE2), () => {
  const store = new SqliteStore(':memory:');
  const clock = { now: (): number => Date.now() };
  const config = parseConfigText('groups:\n  - name: web\n    fleets: {main: {min: 1}}\n');
  const dir = mkdtempSync(join(tmpdir(), 'fw-agent-ns-'));
  let ns: InstanceNs;
  let api: Server;
  let apiPort = 0;

  async function setState(state: InstanceRecord['state']): Promise<void> {
    await fixtureSave(store, { group: 'web', at: Date.now(), records: [{ instanceId: 'i-ns', group: 'web', state, since: Date.now(), reason: 'test' }], transitions: [], history: [], newHandles: [], finishedHandles: [], failures: [], consumedFailures: false, activeWindows: [] });
  }

  async function startApi(): Promise<void> {
    api = createApiServer({ store, config, clock, live: null, adminTokenHash: hashToken('admin') });
    apiPort = (await listen(api, ns.hostIp, apiPort)).port;
  }

  before(async () => {
    ns = new InstanceNs('agent', 0);
    await startEchoServer(ns, PORT);
    await setState('running');
    await startApi();
    const { token } = await issueToken(store, 'agent', 'i-ns', 'ns agent', Date.now());
    mkdirSync(join(dir, 'scripts', 'draining'), { recursive: true });
    writeFileSync(join(dir, 'scripts', 'draining', 'note'), `#!/bin/sh\necho "$1 $2" >> ${join(dir, 'changes')}\n`);
    chmodSync(join(dir, 'scripts', 'draining', 'note'), 0o755);
    const agent = ns.spawn(
      [process.execPath, AGENT_BIN, '--api-url', `http://${ns.hostIp}:${apiPort}`, '--instance-id', 'i-ns', '--api-polling-period', '0.2', '--on-draining-block-new-connections-to-ports', String(PORT), '--script-dir', join(dir, 'scripts'), '--event-dir', join(dir, 'events'), '--log-file', join(dir, 'agent.log'), '--config', '/dev/null'],
      { ...process.env, FLEETWARDEN_AGENT_TOKEN: token },
    );
    agent.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
    assert.ok(await waitFor(() => readFileSync(join(dir, 'agent.log'), { flag: 'a+' }).toString().includes('state (unknown) → running'), 10_000), 'the agent started and read the state');
  });

  after(async () => {
    ns.destroy();
    api.closeAllConnections();
    api.close();
    await store.close();
  });

  it('draining: new connections are reset while an established one keeps echoing; the state script ran', async () => {
    assert.equal(await probe(ns.ip, PORT), 'ok');
    const established = await openEcho(ns.ip, PORT);
    await setState('draining');
    assert.ok(await waitFor(async () => (await probe(ns.ip, PORT)) === 'ECONNREFUSED', 15_000), 'new connections refused with a reset');
    assert.equal(await established.say('still here'), 'still here', 'the established connection continues');
    assert.match(ns.iptables(), new RegExp(`-A ${CHAIN} -p tcp -m tcp --dport ${PORT} .*REJECT --reject-with tcp-reset`));
    // IPv4 is reconciled first, then IPv6: the IPv6 rule follows within the same poll.
    assert.ok(await waitFor(() => new RegExp(`-A ${CHAIN} -p tcp -m tcp --dport ${PORT}`).test(ns.iptables('ip6tables')), 5000), `IPv6 too:\n${ns.iptables('ip6tables')}`);
    assert.ok(await waitFor(() => readFileSync(join(dir, 'changes'), { flag: 'a+' }).toString() === 'draining running\n', 10_000), 'state script ran with <new> <old>');
    established.close();
  });

  it('an unreachable controller changes nothing: the rules stay, and it is logged', async () => {
    api.closeAllConnections();
    await new Promise((r) => api.close(r));
    assert.ok(await waitFor(() => readFileSync(join(dir, 'agent.log'), 'utf8').includes('controller unreachable'), 10_000));
    // Several polls (0.2 s each) without the controller: the rules never go away.
    for (let i = 0; i < 10; i++) {
      assert.equal(await probe(ns.ip, PORT), 'ECONNREFUSED');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(ns.iptables(), new RegExp(CHAIN));
    await setState('stopping');
    await startApi();
    assert.ok(await waitFor(async () => (await probe(ns.ip, PORT)) === 'ok', 15_000), 'back in touch, not draining: accepted again');
    // The jump goes first (new connections accepted at once), then the chain itself.
    assert.ok(await waitFor(() => !new RegExp(CHAIN).test(ns.iptables() + ns.iptables('ip6tables')), 5000), `no rule left:\n${ns.iptables()}${ns.iptables('ip6tables')}`);
    const log = readFileSync(join(dir, 'agent.log'), 'utf8');
    assert.equal(log.match(/controller unreachable/g)?.length, 1, 'logged once per outage, not per poll');
    assert.match(log, /controller reachable again/);
  });
});
