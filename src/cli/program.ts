/**
 * The command line: its commands, help and dispatch (`main`). The program's entry point is main.ts, which loads this
 * module only once it has decided on `run`'s restart (src/app/heap.ts).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CliIo, type Command, EXIT, processIo, runCommand } from './io.js';
import { awsCommands } from './aws.js';
import { configCommands } from './config.js';
import { controllerCommands } from './controller.js';
import { planCommands } from './plan.js';
import { scheduleCommands } from './schedule.js';
import { controlCommands, executionCommands, overrideCommands, tokenCommands } from './operator.js';
import { workloadCommands } from './workload.js';
import { worldCommands } from './world.js';
import { AGENT_HELP, runAgent } from '../agent/cli.js';

const agentCommand: Command = {
  name: 'agent',
  summary: 'the on-instance agent: drain-aware port blocking, state and event scripts (see --help)',
  help: AGENT_HELP,
  run: (args, io) => runAgent(args, io, [process.execPath, realpathSync(process.argv[1] ?? fileURLToPath(new URL('./main.js', import.meta.url))), 'agent']),
};
const TOP: readonly Command[] = [...controllerCommands, ...planCommands, ...worldCommands, agentCommand];

interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}

const GROUPS: readonly CommandGroup[] = [
  { name: 'schedule', summary: 'evaluate AWS schedule expressions (cron, rate, at) in a time zone', commands: scheduleCommands },
  { name: 'config', summary: 'validate, describe and explain the configuration file', commands: configCommands },
  { name: 'override', summary: 'run-time overrides of settings, with a TTL and a reason', commands: overrideCommands },
  { name: 'workload', summary: 'start or stop a tiered workload now, tier by tier (the ordered plan first; --dry-run)', commands: workloadCommands },
  { name: 'control', summary: 'instance controls (unstoppable, unstartable, excluded), with a TTL and a reason', commands: controlCommands },
  { name: 'executions', summary: 'maintenance window executions: tasks, invocations, outputs', commands: executionCommands },
  { name: 'token', summary: 'API tokens: the admin and per-instance agent tokens', commands: tokenCommands },
  { name: 'aws', summary: 'AWS deployment helpers', commands: awsCommands },
];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

function mainHelp(): string {
  const lines = [
    'Usage: fleetwarden <command> [options]',
    '',
    'Fleetwarden keeps fleets of long-lived EC2 instances scheduled, patched and drained safely.',
    '',
    'Commands:',
  ];
  for (const c of TOP) lines.push(`  ${c.name.padEnd(22)} ${c.summary}`);
  for (const g of GROUPS) {
    for (const c of g.commands) lines.push(`  ${`${g.name} ${c.name}`.padEnd(22)} ${c.summary}`);
  }
  lines.push('', "Run 'fleetwarden <command> --help' for a command's options. Exit codes: 0 ok, 1 failure, 2 bad input, 3 changes pending (plan).");
  return lines.join('\n');
}

function groupHelp(group: CommandGroup): string {
  return [`Usage: fleetwarden ${group.name} <command> [options]`, '', `${group.summary}.`, '', 'Commands:', ...group.commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`)].join('\n');
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(mainHelp());
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '--version' || first === '-V') {
    io.out(version());
    return EXIT.ok;
  }
  const top = TOP.find((c) => c.name === first);
  if (top) return runCommand(top, argv.slice(1), io);
  const group = GROUPS.find((g) => g.name === first);
  if (!group) {
    io.err(`error: unknown command "${first}"; run 'fleetwarden --help' for the list`);
    return EXIT.usage;
  }
  if (second === undefined || second === '--help' || second === '-h') {
    io.out(groupHelp(group));
    return second === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = group.commands.find((c) => c.name === second);
  if (!command) {
    io.err(`error: unknown command "${group.name} ${second}"; run 'fleetwarden ${group.name} --help' for the list`);
    return EXIT.usage;
  }
  return runCommand(command, rest, io);
}
