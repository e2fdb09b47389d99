/**
 * `fleetwarden agent` (and the single-file `fleetwarden-agent.mjs`): options from the command line over a
 * configuration file, identity, the polling loop, systemd unit generation. Imports nothing of the controller, so
 * the single-file build stays small.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Agent } from './agent.js';
import { DrainFirewall, parsePorts } from './firewall.js';
import { imdsInstanceId } from './identity.js';
import { AgentLog, AgentUsageError, parseRotate } from './log.js';
import { FileJournal, runScript } from './scripts.js';

export const DEFAULT_AGENT_CONFIG = '/etc/fleetwarden/agent.yaml';

export const AGENT_HELP = `Usage: fleetwarden agent --api-url URL [options]

Runs on each instance: polls the controller for this instance's lifecycle state and, while it is draining,
refuses new TCP connections to the listed ports (established ones continue), runs per-state scripts, and runs
the event scripts and bypass checks the controller queues for it (controller.eventDelivery: agent).

  --api-url URL                the controller's API, e.g. http://fleetwarden.internal:8080
  --token-file FILE            the agent token (default /etc/fleetwarden/agent-token; or FLEETWARDEN_AGENT_TOKEN);
                               issue one with 'fleetwarden token issue --instance ID'
  --instance-id ID             this instance (default: read from the EC2 metadata service, IMDSv2)
  --imds-endpoint URL          metadata service (default http://169.254.169.254, or AWS_EC2_METADATA_SERVICE_ENDPOINT)
  --api-polling-period SECONDS time between polls (default 10; decimals allowed, at least 0.2)
  --on-draining-block-new-connections-to-ports PORT [PORT...]
                               while draining, reject new TCP connections to these ports with a reset (IPv4 and
                               IPv6, chain FLEETWARDEN-DRAIN; needs root and iptables)
  --script-dir DIR             on a state change, run DIR/<state>/* with <new> <old> (default /etc/fleetwarden/agent.d)
  --script-timeout SECONDS     time limit of each state script (default 30)
  --event-dir DIR              event scripts DIR/<event> (default /etc/fleetwarden/events): exit 0 = success;
                               other exits, not executable, or the event's time limit = failure; absent = success
  --state-dir DIR              the journal of maintenance scripts in progress (default /var/lib/fleetwarden-agent)
  --reboot-command CMD         how a maintenance script's exit 194 reboots (default "systemctl reboot"; words
                               split on spaces, run without a shell)
  --log-file FILE              log here instead of stderr
  --log-file-rotate SPEC       when,interval,backups with when s|m|h|d|w (default d,1,7: daily, keep 7)
  --config FILE                options as YAML/JSON keys named like the flags (default ${DEFAULT_AGENT_CONFIG}, read
                               when it exists); flags win
  --generate-systemd FILE      write a systemd unit that runs the agent with these options, and exit
  --once                       one poll (and the commands it starts), then exit

When the controller cannot be reached, the last known state is kept and the firewall is not changed.`;

export interface AgentSettings {
  readonly apiUrl: string;
  readonly tokenFile: string;
  readonly instanceId: string | undefined;
  readonly imdsEndpoint: string;
  readonly pollMs: number;
  readonly ports: number[];
  readonly scriptDir: string;
  readonly scriptTimeoutMs: number;
  readonly eventDir: string;
  readonly logFile: string | undefined;
  readonly logRotate: string;
  readonly generateSystemd: string | undefined;
  readonly once: boolean;
  readonly config: string | undefined;
  readonly stateDir: string;
  readonly rebootCommand: string[];
}

const STRING_FLAGS = ['api-url', 'token-file', 'instance-id', 'imds-endpoint', 'api-polling-period', 'script-dir', 'script-timeout', 'event-dir', 'log-file', 'log-file-rotate', 'config', 'generate-systemd', 'state-dir', 'reboot-command'] as const;
const PORTS_FLAG = 'on-draining-block-new-connections-to-ports';

type Raw = Partial<Record<(typeof STRING_FLAGS)[number], string>> & { ports?: string[]; once?: boolean };

/** Parses argv; the ports flag takes every following value up to the next flag (`--…-ports 80 443`), or `80,443`. */
export function parseAgentArgs(argv: readonly string[]): Raw {
  const out: Raw = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') ? [arg.slice(2).split('=')[0] ?? '', arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined] : ['', undefined];
    if (flag === PORTS_FLAG) {
      const ports: string[] = inline === undefined ? [] : [inline];
      while (inline === undefined && i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('-')) ports.push(argv[++i] ?? '');
      out.ports = [...(out.ports ?? []), ...ports.flatMap((p) => p.split(','))];
      if (out.ports.length === 0) throw new AgentUsageError(`--${PORTS_FLAG}`, 'needs at least one port');
    } else if (flag === 'once') {
      out.once = true;
    } else if ((STRING_FLAGS as readonly string[]).includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new AgentUsageError(`--${flag}`, 'needs a value');
      out[flag as (typeof STRING_FLAGS)[number]] = value;
    } else {
      throw new AgentUsageError(arg, `unknown option; run 'fleetwarden agent --help'`);
    }
  }
  return out;
}

/** Reads the configuration file: keys named like the flags; unknown keys are refused by name. */
export function readAgentConfig(file: string): Raw {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AgentUsageError(file, `cannot read the agent configuration: ${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AgentUsageError(file, 'expected a mapping of option: value');
  const out: Raw = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (k === PORTS_FLAG) {
      const list = Array.isArray(v) ? v : [v];
      out.ports = list.map((p) => String(p));
    } else if (k === 'once') {
      out.once = v === true;
    } else if ((STRING_FLAGS as readonly string[]).includes(k) && k !== 'config' && k !== 'generate-systemd') {
      if (typeof v !== 'string' && typeof v !== 'number') throw new AgentUsageError(`${file}: ${k}`, 'expected a string or a number');
      out[k as (typeof STRING_FLAGS)[number]] = String(v);
    } else {
      throw new AgentUsageError(`${file}: ${k}`, 'unknown option');
    }
  }
  return out;
}

function seconds(raw: string | undefined, field: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !Number.isFinite(n) || n < min || n > 86_400) throw new AgentUsageError(field, `expected seconds from ${min} to 86400, got ${JSON.stringify(raw)}`);
  return Math.round(n * 1000);
}

export function agentSettings(argv: readonly string[]): AgentSettings {
  const flags = parseAgentArgs(argv);
  const configFile = flags.config ?? (existsSync(DEFAULT_AGENT_CONFIG) ? DEFAULT_AGENT_CONFIG : undefined);
  if (flags.config !== undefined && !existsSync(flags.config)) throw new AgentUsageError('--config', `no file ${flags.config}`);
  const raw: Raw = { ...(configFile === undefined ? {} : readAgentConfig(configFile)), ...flags };
  const apiUrl = raw['api-url'];
  if (raw['generate-systemd'] === undefined && apiUrl === undefined) throw new AgentUsageError('--api-url', 'is required, e.g. --api-url http://fleetwarden.internal:8080');
  if (apiUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(apiUrl)) throw new AgentUsageError('--api-url', `expected http(s)://HOST[:PORT], got ${JSON.stringify(apiUrl)}`);
  const instanceId = raw['instance-id'];
  if (instanceId !== undefined && !/^i-[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(instanceId)) throw new AgentUsageError('--instance-id', `expected an instance id such as i-0123456789abcdef0, got ${JSON.stringify(instanceId)}`);
  const logRotate = raw['log-file-rotate'] ?? 'd,1,7';
  parseRotate(logRotate);
  let ports: number[];
  try {
    ports = raw.ports === undefined ? [] : parsePorts(raw.ports);
  } catch (err) {
    throw new AgentUsageError(`--${PORTS_FLAG}`, err instanceof Error ? err.message.replace(/^[^:]*: /, '') : String(err));
  }
  return {
    apiUrl: apiUrl ?? '',
    tokenFile: raw['token-file'] ?? '/etc/fleetwarden/agent-token',
    instanceId,
    imdsEndpoint: raw['imds-endpoint'] ?? process.env['AWS_EC2_METADATA_SERVICE_ENDPOINT'] ?? 'http://169.254.169.254',
    pollMs: seconds(raw['api-polling-period'], '--api-polling-period', 10_000, 0.2),
    ports,
    scriptDir: raw['script-dir'] ?? '/etc/fleetwarden/agent.d',
    scriptTimeoutMs: seconds(raw['script-timeout'], '--script-timeout', 30_000, 1),
    eventDir: raw['event-dir'] ?? '/etc/fleetwarden/events',
    logFile: raw['log-file'],
    logRotate,
    generateSystemd: raw['generate-systemd'],
    once: raw.once === true,
    config: configFile,
    stateDir: raw['state-dir'] ?? '/var/lib/fleetwarden-agent',
    rebootCommand: (raw['reboot-command'] ?? 'systemctl reboot').split(/\s+/).filter((w) => w !== ''),
  };
}

/** One ExecStart argument, quoted for systemd: `"` and `\` escaped, `%` and `$` doubled. */
export function systemdQuote(arg: string): string {
  const escaped = arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? escaped : `"${escaped}"`;
}

/** The unit: the same program and options minus --generate-systemd; restarts always. */
export function systemdUnit(argv: readonly string[], program: readonly string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--generate-systemd') {
      i++;
      continue;
    }
    if (a.startsWith('--generate-systemd=') || a === '--once') continue;
    kept.push(a);
  }
  return [
    '[Unit]',
    'Description=Fleetwarden agent: drain-aware port blocking and in-instance scripts',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${[...program, ...kept].map(systemdQuote).join(' ')}`,
    'Restart=always',
    'RestartSec=5',
    // The firewall needs root; nothing else is needed from the environment.
    'User=root',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export interface AgentIo {
  out(text: string): void;
  err(text: string): void;
}

/** Runs the agent; resolves with the exit code (0 after SIGTERM/SIGINT or --once). */
export async function runAgent(argv: readonly string[], io: AgentIo, program: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(AGENT_HELP);
    return 0;
  }
  let settings: AgentSettings;
  try {
    settings = agentSettings(argv);
  } catch (err) {
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (settings.generateSystemd !== undefined) {
    const file = resolve(settings.generateSystemd);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, systemdUnit(argv, program), { mode: 0o644 });
    io.out(`wrote ${file}; then: systemctl daemon-reload && systemctl enable --now ${file.split('/').pop() ?? ''}`);
    return 0;
  }
  const log = new AgentLog(settings.logFile ?? null, parseRotate(settings.logRotate), () => Date.now());
  const token = process.env['FLEETWARDEN_AGENT_TOKEN'] ?? (existsSync(settings.tokenFile) ? readFileSync(settings.tokenFile, 'utf8').trim() : '');
  if (token === '') {
    io.err(`error: --token-file: no agent token in ${settings.tokenFile} (nor FLEETWARDEN_AGENT_TOKEN); issue one with 'fleetwarden token issue --instance ID'`);
    return 2;
  }
  let instanceId = settings.instanceId;
  if (instanceId === undefined) {
    try {
      instanceId = await imdsInstanceId(settings.imdsEndpoint);
    } catch (err) {
      io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
  }
  const firewall = settings.ports.length > 0 ? new DrainFirewall(settings.ports) : null;
  const [rebootProgram = 'systemctl', ...rebootArgs] = settings.rebootCommand;
  const agent = new Agent({
    apiUrl: settings.apiUrl,
    token,
    instanceId,
    firewall,
    scriptDir: settings.scriptDir,
    eventDir: settings.eventDir,
    scriptTimeoutMs: settings.scriptTimeoutMs,
    log,
    journal: new FileJournal(join(settings.stateDir, 'journal.json')),
    reboot: async () => {
      const r = await runScript(rebootProgram, rebootArgs, 60_000);
      if (r.exitCode !== 0) throw new Error(`reboot command ${settings.rebootCommand.join(' ')} failed: exit ${r.exitCode ?? 'signal'} ${r.output}`);
    },
  });
  log.info(`agent for ${instanceId}: polling ${settings.apiUrl} every ${settings.pollMs / 1000}s${settings.ports.length > 0 ? `; blocking ports ${settings.ports.join(', ')} while draining` : ''}${settings.config === undefined ? '' : `; configuration ${settings.config}`}`);
  const signal = { stopping: false, wake: null as (() => void) | null };
  const stop = (): void => {
    signal.stopping = true;
    signal.wake?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    do {
      const started = Date.now();
      await agent.poll();
      if (settings.once) break;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(0, settings.pollMs - (Date.now() - started)));
        signal.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    } while (!signal.stopping);
    await agent.idle();
  } finally {
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGINT', stop);
  }
  log.info('agent stopped; the firewall rules are left as they are');
  return 0;
}
