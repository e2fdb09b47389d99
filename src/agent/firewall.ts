import { execFile } from 'node:child_process';
import { FleetwardenError, ValidationError } from '../domain/errors.js';

/**
 * The agent's drain firewall (seed 002; docs/agent.md, Ports): while the instance drains, new TCP connections to the
 * listed ports are rejected with a TCP reset — so a load balancer's health checks fail over at once — while
 * established connections continue. Rules live in a chain of their own, for IPv4 and IPv6, reached by one jump from
 * INPUT that exists only while draining. Reconciling is idempotent: when the rules are already as wanted, nothing is
 * changed. Commands run without a shell, with `-w` so they wait for the xtables lock instead of failing.
 */
export const CHAIN = 'FLEETWARDEN-DRAIN';
/** The jump from INPUT: every interface but loopback. */
const JUMP = ['!', '-i', 'lo', '-j', CHAIN];

/** Runs one command (argv, no shell); resolves with its exit code and output. */
export type Exec = (argv: readonly string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

export const execDirect: Exec = (argv) =>
  new Promise((resolve) => {
    const [cmd = '', ...args] = argv;
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      // A non-zero exit carries its code; a command that could not run at all (ENOENT) counts as 127, as in sh.
      const code: unknown = err === null ? 0 : (err as { code?: unknown }).code;
      resolve({ code: typeof code === 'number' ? code : 127, stdout, stderr: err !== null && typeof code !== 'number' ? err.message : stderr });
    });
  });

/** iptables/ip6tables refused a change: not retried (the same rule fails the same way); the caller reports it. */
export class FirewallError extends FleetwardenError {
  override readonly name: string = 'FirewallError';
  constructor(message: string) {
    super(message, {}, 'terminal');
  }
}

export function parsePorts(values: readonly string[], field = '--on-draining-block-new-connections-to-ports'): number[] {
  const ports = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return [
    ...new Set(
      ports.map((p) => {
        if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new ValidationError(field, `"${p}" is not a TCP port (1-65535)`);
        return Number(p);
      }),
    ),
  ].sort((a, b) => a - b);
}

/** The rules of the chain while draining, as `iptables -S` prints them. */
export function wantedRules(ports: readonly number[]): string[] {
  return ports.map((p) => `-A ${CHAIN} -p tcp -m tcp --dport ${p} --tcp-flags FIN,SYN,RST,ACK SYN -j REJECT --reject-with tcp-reset`);
}

export interface ReconcileResult {
  /** Commands that changed something (empty when the rules were already as wanted). */
  readonly changes: string[][];
}

export class DrainFirewall {
  private readonly exec: Exec;
  private readonly ports: readonly number[];
  private readonly tools: readonly string[];

  constructor(ports: readonly number[], exec: Exec = execDirect, tools: readonly string[] = ['iptables', 'ip6tables']) {
    this.ports = ports;
    this.exec = exec;
    this.tools = tools;
  }

  private async run(argv: string[], changes: string[][] | null): Promise<{ code: number; stdout: string; stderr: string }> {
    const r = await this.exec(argv);
    if (changes !== null) {
      if (r.code !== 0) throw new FirewallError(`${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
      changes.push(argv);
    }
    return r;
  }

  /** Makes the rules match `draining` for every address family; returns what it had to change. */
  async reconcile(draining: boolean): Promise<ReconcileResult> {
    const changes: string[][] = [];
    for (const tool of this.tools) {
      if (draining && this.ports.length > 0) await this.block(tool, changes);
      else await this.unblock(tool, changes);
    }
    return { changes };
  }

  private async block(tool: string, changes: string[][]): Promise<void> {
    const listed = await this.run([tool, '-w', '-S', CHAIN], null);
    const want = wantedRules(this.ports);
    if (listed.code !== 0) await this.run([tool, '-w', '-N', CHAIN], changes);
    const have = listed.code === 0 ? listed.stdout.split('\n').filter((l) => l.startsWith(`-A ${CHAIN} `)) : [];
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      if (have.length > 0) await this.run([tool, '-w', '-F', CHAIN], changes);
      for (const p of this.ports) await this.run([tool, '-w', '-A', CHAIN, '-p', 'tcp', '--dport', String(p), '--syn', '-j', 'REJECT', '--reject-with', 'tcp-reset'], changes);
    }
    // The jump goes first in INPUT: an ACCEPT earlier in the chain must not let new connections through. Loopback
    // is spared: the instance's own health checks and local clients keep working while the network is refused.
    const jump = await this.run([tool, '-w', '-C', 'INPUT', ...JUMP], null);
    if (jump.code !== 0) await this.run([tool, '-w', '-I', 'INPUT', '1', ...JUMP], changes);
  }

  private async unblock(tool: string, changes: string[][]): Promise<void> {
    for (const jump of [JUMP, ['-j', CHAIN]]) {
      while ((await this.run([tool, '-w', '-C', 'INPUT', ...jump], null)).code === 0) await this.run([tool, '-w', '-D', 'INPUT', ...jump], changes);
    }
    if ((await this.run([tool, '-w', '-S', CHAIN], null)).code === 0) {
      await this.run([tool, '-w', '-F', CHAIN], changes);
      await this.run([tool, '-w', '-X', CHAIN], changes);
    }
  }
}
