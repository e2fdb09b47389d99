/**
 * The drain firewall for real, as root: a TCP echo server in one network namespace, a client in another, joined by
 * a veth pair (IPv4 and IPv6). While draining, an established connection keeps exchanging data and new
 * connections are refused with a reset; leaving draining removes every rule; re-applying changes nothing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CHAIN, DrainFirewall, type Exec, execDirect, parsePorts } from '../../src/agent/firewall.js';
import { AS_ROOT, IPROUTE2, IPTABLES, requirements } from '../support/requirements.js';

const ID = `${process.pid % 10000}`;
const SRV = `fw-srv-${ID}`;
const CLI = `fw-cli-${ID}`;
const V4 = { srv: '169.254.213.1', cli: '169.254.213.2' };
const V6 = { srv: 'fd00:f1ee:d00d::1', cli: 'fd00:f1ee:d00d::2' };
const PORT = 8080;

function sh(...argv: string[]): void {
  execFileSync(argv[0] ?? '', argv.slice(1), { stdio: 'pipe' });
}

/** Runs iptables/ip6tables inside the server's namespace. */
const inServer: Exec = (argv) => execDirect(['ip', 'netns', 'exec', SRV, ...argv]);

const SERVER = `require('net').createServer((s) => s.on('data', (d) => s.write(d))).listen(${PORT}, '::', () => console.log('ready'));`;
const CLIENT = `
const net = require('net'); const conns = {};
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line); const say = (o) => console.log(JSON.stringify({ id: c.id, ...o }));
  if (c.op === 'open') {
    const s = net.connect({ host: c.host, port: ${PORT} }); let done = false;
    const t = setTimeout(() => { if (!done) { done = true; s.destroy(); say({ ok: false, code: 'TIMEOUT' }); } }, 3000);
    s.on('connect', () => { if (!done) { done = true; clearTimeout(t); conns[c.id] = s; say({ ok: true }); } });
    s.on('error', (e) => { if (!done) { done = true; clearTimeout(t); say({ ok: false, code: e.code }); } });
  } else if (c.op === 'echo') {
    const s = conns[c.conn]; s.once('data', (d) => say({ echo: d.toString() })); s.write(c.data);
  }
});`;

let server: ChildProcess | undefined;
let client: ChildProcess | undefined;
const pending = new Map<string, (v: Record<string, unknown>) => void>();
let seq = 0;

function ask(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  const id = `q${++seq}`;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(cmd)}`)), 10_000);
    pending.set(id, (v) => {
      clearTimeout(t);
      resolve(v);
    });
    client?.stdin?.write(`${JSON.stringify({ ...cmd, id })}\n`);
  });
}

describe('drain firewall with real iptables in network namespaces', requirements(AS_ROOT, IPTABLES, IPROUTE2), () => {
  before(async () => {
    for (const ns of [SRV, CLI]) sh('ip', 'netns', 'add', ns);
    sh('ip', 'link', 'add', `veth-s${ID}`, 'netns', SRV, 'type', 'veth', 'peer', 'name', `veth-c${ID}`, 'netns', CLI);
    for (const [ns, dev, v4, v6] of [[SRV, `veth-s${ID}`, V4.srv, V6.srv], [CLI, `veth-c${ID}`, V4.cli, V6.cli]] as const) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'addr', 'add', `${v4}/30`, 'dev', dev);
      sh('ip', '-n', ns, '-6', 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
    server = spawn('ip', ['netns', 'exec', SRV, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => server?.stdout?.once('data', () => resolve()));
    client = spawn('ip', ['netns', 'exec', CLI, process.execPath, '-e', CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    client.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as { id: string };
        buf = buf.slice(i + 1);
        pending.get(msg.id)?.(msg);
      }
    });
  });

  after(() => {
    client?.kill();
    server?.kill();
    for (const ns of [SRV, CLI]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  });

  it('draining: established connections keep exchanging data; new ones (IPv4 and IPv6) get a reset; leaving draining removes the rules', async () => {
    const fw = new DrainFirewall(parsePorts(['8080']), inServer);
    assert.deepEqual(await ask({ op: 'open', conn: 'a', host: V4.srv }), { id: `q${seq}`, ok: true });
    const a = `q${seq}`;
    assert.equal((await ask({ op: 'echo', conn: a, data: 'before' }))['echo'], 'before');

    const applied = await fw.reconcile(true);
    assert.ok(applied.changes.length >= 4, 'chain, rule and jump for each family');
    assert.equal((await ask({ op: 'echo', conn: a, data: 'during' }))['echo'], 'during', 'the established connection continues');
    const refused4 = await ask({ op: 'open', host: V4.srv });
    assert.deepEqual([refused4['ok'], refused4['code']], [false, 'ECONNREFUSED'], 'a new IPv4 connection is reset (refused at once, not timed out)');
    const refused6 = await ask({ op: 'open', host: V6.srv });
    assert.deepEqual([refused6['ok'], refused6['code']], [false, 'ECONNREFUSED'], 'and IPv6 too');

    assert.deepEqual((await fw.reconcile(true)).changes, [], 're-applying is a no-op');
    const local = execFileSync('ip', ['netns', 'exec', SRV, process.execPath, '-e', `require('net').connect(${PORT}, '127.0.0.1').on('connect', () => { console.log('ok'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`], { encoding: 'utf8' }).trim();
    assert.equal(local, 'ok', 'loopback is spared: local health checks keep working while draining');
    assert.equal((await ask({ op: 'echo', conn: a, data: 'still' }))['echo'], 'still');

    await fw.reconcile(false);
    assert.equal((await ask({ op: 'open', host: V4.srv }))['ok'], true, 'new connections accepted again');
    assert.equal((await ask({ op: 'open', host: V6.srv }))['ok'], true);
    for (const tool of ['iptables', 'ip6tables']) {
      const rules = execFileSync('ip', ['netns', 'exec', SRV, tool, '-w', '-S'], { encoding: 'utf8' });
      assert.doesNotMatch(rules, new RegExp(CHAIN), `${tool}: no rule or chain left`);
    }
    assert.deepEqual((await fw.reconcile(false)).changes, [], 'removing again is a no-op');
  });

  it('repairs drift: a rule deleted by hand, or a jump removed, is put back on the next reconcile', async () => {
    const fw = new DrainFirewall([8080, 9090], inServer);
    await fw.reconcile(true);
    await inServer(['iptables', '-w', '-D', 'INPUT', '!', '-i', 'lo', '-j', CHAIN]);
    await inServer(['ip6tables', '-w', '-D', CHAIN, '-p', 'tcp', '--dport', '9090', '--syn', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
    const repaired = await fw.reconcile(true);
    assert.ok(repaired.changes.some((c) => c.includes('iptables') && c.includes('-I')), 'the IPv4 jump is restored');
    assert.ok(repaired.changes.some((c) => c.includes('ip6tables') && c.includes('9090')), 'the IPv6 rule is restored');
    assert.equal((await ask({ op: 'open', host: V4.srv }))['code'], 'ECONNREFUSED');
    await fw.reconcile(false);
  });
});

describe('drain firewall options', () => {
  it('rejects ports that are not ports, naming the option', () => {
    assert.deepEqual(parsePorts(['80,443', '443', ' 8080 ']), [80, 443, 8080]);
    assert.throws(() => parsePorts(['80', 'http']), /--on-draining-block-new-connections-to-ports: "http" is not a TCP port/);
    assert.throws(() => parsePorts(['70000']), /not a TCP port/);
  });
});
