/**
 * Network namespaces for tests that need real iptables (root): each "instance" is a namespace joined to the root
 * namespace by a veth pair, so a process in the test (an API server, a load balancer, a client) reaches it at its
 * own address, and the instance reaches the test at the host side's address.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';

function sh(...argv: string[]): void {
  execFileSync(argv[0] ?? '', argv.slice(1), { stdio: 'pipe' });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what a killed test run left at `index`: its namespace (named after the run's pid, no longer alive) with the
 * processes still in it (an app, an agent: `setsid` outlives the run), and so the route to the same addresses that
 * would otherwise send this run's traffic to them. Namespaces of a run still alive (another test file) are left.
 */
export function removeStale(index: number): string[] {
  const removed: string[] = [];
  const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^fw-[a-z0-9]+-(\d+)-(\d+)$/.exec(name);
    const pid = Number(m?.[1]);
    // This process adds each index once: a namespace already named after it is an earlier run's (its pid reused).
    if (m === null || Number(m[2]) !== index || (pid !== process.pid && alive(pid))) continue;
    for (const inside of execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/)) {
      if (inside === '') continue;
      try {
        process.kill(Number(inside), 'SIGKILL');
      } catch {
        // gone
      }
    }
    sh('ip', 'netns', 'del', name);
    // The kernel removes the veth pair, and its route, once the killed processes have left the namespace: wait for
    // the root side to go, so this run's route to the same addresses is the only one.
    const link = `fwh${pid}x${index}`;
    const until = Date.now() + 10_000;
    while (execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).includes(` ${link}@`) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    removed.push(name);
  }
  return removed;
}

export class InstanceNs {
  readonly name: string;
  /** The root namespace's side of the link. */
  readonly hostIp: string;
  /** The instance's address. */
  readonly ip: string;
  private readonly children: ChildProcess[] = [];

  /**
   * `index` 0-60 picks the addresses 169.254.214.(4i+1) (host) and .(4i+2) (instance); what a killed run left at the
   * same index is removed first (removeStale). `tag`: lower-case letters and digits.
   */
  constructor(tag: string, index: number) {
    const id = `${process.pid}`;
    this.name = `fw-${tag}-${id}-${index}`;
    this.hostIp = `169.254.214.${4 * index + 1}`;
    this.ip = `169.254.214.${4 * index + 2}`;
    const host = `fwh${id}x${index}`;
    const inner = `fwi${id}x${index}`;
    removeStale(index);
    sh('ip', 'netns', 'add', this.name);
    sh('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', inner, 'netns', this.name);
    sh('ip', 'addr', 'add', `${this.hostIp}/30`, 'dev', host);
    sh('ip', 'link', 'set', host, 'up');
    sh('ip', '-n', this.name, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', this.name, 'addr', 'add', `${this.ip}/30`, 'dev', inner);
    sh('ip', '-n', this.name, 'link', 'set', inner, 'up');
  }

  /** Starts a process inside the namespace (killed by `destroy`). */
  spawn(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.children.push(child);
    return child;
  }

  iptables(tool: 'iptables' | 'ip6tables' = 'iptables'): string {
    return execFileSync('ip', ['netns', 'exec', this.name, tool, '-w', '-S'], { encoding: 'utf8' });
  }

  destroy(): void {
    for (const c of this.children) c.kill('SIGKILL');
    try {
      sh('ip', 'netns', 'del', this.name); // removes the veth pair with it
    } catch {
      // already gone
    }
  }
}

/** A TCP echo server for `--port` inside a namespace; resolves once it listens. */
export async function startEchoServer(ns: InstanceNs, port: number): Promise<ChildProcess> {
  const child = ns.spawn([process.execPath, '-e', `require('net').createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); }).listen(${port}, '0.0.0.0', () => console.log('ready'));`]);
  await new Promise<void>((resolveReady, reject) => {
    child.once('exit', (code) => reject(new Error(`echo server exited ${code ?? ''}`)));
    child.stdout?.once('data', () => resolveReady());
  });
  return child;
}

/** Opens a TCP connection: 'ok' (then closed), or the error code (ECONNREFUSED for a reset). */
export function probe(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolveProbe) => {
    const s = connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      resolveProbe('TIMEOUT');
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolveProbe('ok');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolveProbe(e.code ?? 'ERROR');
    });
  });
}

/** An established connection that echoes: `say` resolves with the echo. */
export async function openEcho(host: string, port: number): Promise<{ say: (text: string) => Promise<string>; close: () => void }> {
  const s = connect({ host, port });
  await new Promise<void>((resolveConnect, reject) => {
    s.once('connect', resolveConnect);
    s.once('error', reject);
  });
  return {
    say: (text) =>
      new Promise((resolveSay, reject) => {
        s.once('data', (d) => {
          resolveSay(d.toString());
        });
        s.once('error', reject);
        s.write(text);
      }),
    close: () => s.destroy(),
  };
}

/** Polls `check` every `everyMs` until it returns true or `limitMs` passes; returns whether it did. */
export async function waitFor(check: () => Promise<boolean> | boolean, limitMs: number, everyMs = 20): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return check();
}
