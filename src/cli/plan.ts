/**
 * `fleetwarden plan`: what the next tick would do, without doing it (docs/cli.md#plan). It goes through the
 * composition root's read-only controller (openPreview) and the reconciler's own observe/read/plan steps
 * (Reconciler.preview), so it plans exactly as `run` would, on either provider.
 */
import { findGroup } from '../api/services.js';
import type { PlanJson } from '../api/wire.js';
import { openPreview } from '../app/compose.js';
import { loadConfigFile } from '../config/load.js';
import { describeProblem, problemKey } from '../domain/problems.js';
import { formatInstant } from '../domain/time.js';
import type { PreviewSummary } from '../reconciler/preview.js';
import { type CliIo, type Command, escapeControl, EXIT, parse, table } from './io.js';
import { DEFAULT_CONFIG, DEFAULT_STATE_DIR } from './remote.js';

/** The preview as `--json` prints it (wire.planJson). */
export function planView(p: PreviewSummary, store: string | null): PlanJson {
  const groups = p.groups.map((g): PlanJson['groups'][number] => {
    const appeared = new Set((g.problems?.appeared ?? []).map(problemKey));
    return {
      group: g.group,
      lease: g.lease === null ? null : { owner: g.lease.owner, expiresAt: formatInstant(g.lease.expiresAt) },
      commands: (g.plan?.commands ?? []).map((c) => ({
        kind: c.kind,
        instances: c.instances,
        reason: c.reason,
        ...(c.kind === 'register' || c.kind === 'deregister' ? { targetGroup: c.targetGroup } : {}),
        ...(c.kind === 'run-event' ? { event: c.event } : {}),
        ...(c.kind === 'stop' ? { force: c.force } : {}),
      })),
      transitions: (g.plan?.transitions ?? []).map((t) => ({ instance: t.instanceId, from: t.from, to: t.to, reason: t.reason })),
      maintenance: g.maintenance,
      windows: g.windows,
      problems: (g.problems?.current ?? []).map((q) => ({ source: q.source, subject: q.subject, field: q.field, value: q.value, reason: q.reason, since: formatInstant(q.since), new: appeared.has(problemKey(q)) })),
      problemsCleared: (g.problems?.cleared ?? []).map((q) => ({ source: q.source, subject: q.subject, field: q.field, value: q.value, reason: q.reason })),
      retries: g.retries,
      error: g.error,
    };
  });
  const changes = groups.some((g) => g.commands.length > 0 || g.transitions.length > 0 || g.maintenance.length > 0);
  return { at: formatInstant(p.at), store, changes, groups };
}

function printHuman(view: PlanJson, io: CliIo): void {
  io.out(escapeControl(`plan at ${view.at}, ${view.store === null ? 'no store yet: as a first tick would' : `from ${view.store}`}; nothing is changed`));
  for (const g of view.groups) {
    io.out('');
    const holder = g.lease === null ? 'no controller holds it' : `held by ${g.lease.owner} until ${g.lease.expiresAt}`;
    io.out(escapeControl(`group ${g.group} (${holder})`));
    if (g.error !== null) {
      io.out(escapeControl(`  could not be planned: ${g.error}`));
      continue;
    }
    const quiet = g.commands.length === 0 && g.transitions.length === 0 && g.maintenance.length === 0;
    if (quiet) io.out('  nothing to do');
    if (g.commands.length > 0) io.out(indent(table(['command', 'instances', 'reason'], g.commands.map((c) => [commandLabel(c), c.instances.join(', '), c.reason]))));
    if (g.transitions.length > 0) io.out(indent(table(['instance', 'from', 'to', 'reason'], g.transitions.map((t) => [t.instance, t.from, `→ ${t.to}`, t.reason]))));
    for (const m of g.maintenance) io.out(escapeControl(`  maintenance: ${m.instance === null ? '' : `${m.instance}: `}${m.message}`));
    for (const w of g.windows.entered) io.out(escapeControl(`  window ${w} would be entered`));
    for (const w of g.windows.exited) io.out(escapeControl(`  window ${w} would be exited`));
    for (const q of g.problems) io.out(escapeControl(`  ${q.new ? 'new problem' : `problem since ${q.since}`}: ${describeProblem(q as Parameters<typeof describeProblem>[0])}`));
    for (const q of g.problemsCleared) io.out(escapeControl(`  problem cleared: ${describeProblem(q as Parameters<typeof describeProblem>[0])}`));
    for (const r of g.retries) io.out(escapeControl(`  retried: ${r}`));
  }
  const failed = view.groups.filter((g) => g.error !== null).length;
  io.out(`\n${view.changes ? 'changes pending' : 'nothing to do'}${failed > 0 ? `; ${failed} group(s) could not be planned` : ''}`);
}

function commandLabel(c: PlanJson['groups'][number]['commands'][number]): string {
  if (c.kind === 'run-event') return `run-event ${c.event ?? ''}`;
  if (c.kind === 'register' || c.kind === 'deregister') return `${c.kind} ${c.targetGroup ?? ''}`;
  if (c.kind === 'stop' && c.force === true) return 'stop (forced)';
  return c.kind;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}

const plan: Command = {
  name: 'plan',
  summary: 'what the next tick would do (commands, transitions, maintenance), without doing it; exit 3 when changes are pending',
  help: `Usage: fleetwarden plan [--config FILE] [--state-dir DIR] [--group NAME ...] [--json]

Observes the fleet, resolves the configuration and plans every group (or each --group) exactly as the next tick
of 'fleetwarden run' would, and prints what that tick would do — the commands it would issue (start, stop,
deregister, register, run-event, check-bypass: instances and reason), the transitions (instance, from → to,
reason), the maintenance steps (a window execution that would start, scripts it would send, target groups an
instance would leave or rejoin) — with the problems found (tags and windows left alone) and, per group, the
controller holding its lease if one does (plan shows what a tick would do, whoever would run it).

It changes nothing: no lease is taken, nothing is saved or recorded in the history, no cloud call but reads
(Describe*, List*, Get*), and the simulated world file is not written. The SQLite store is opened read-only and
not upgraded; with no store yet, plan shows what a first tick would do. With the simulator, the instant planned
for is the simulated world's.

  --config FILE     configuration file (default ${DEFAULT_CONFIG})
  --state-dir DIR   where the SQLite store (and the simulated world) live (default ${DEFAULT_STATE_DIR}/)
  --group NAME      plan this group only; repeat for several (an unknown name: exit 2)
  --json            one JSON object: {at, store, changes, groups: [{group, lease, commands, transitions,
                    maintenance, windows, problems, problemsCleared, retries, error}]} (docs/cli.md#plan)

Exit codes: 0 nothing to do, 3 changes pending (a command, a transition or a maintenance step in some group),
1 a group could not be planned (a cloud or store error; the others are still printed), 2 bad input.`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { config: { type: 'string' }, 'state-dir': { type: 'string' }, group: { type: 'string', multiple: true }, json: { type: 'boolean' } }, false);
    const config = loadConfigFile(values.config ?? DEFAULT_CONFIG);
    // Every name checked before anything is opened: a typo plans nothing.
    for (const name of values.group ?? []) findGroup(config, name, '--group');
    const only = values.group === undefined ? undefined : new Set(values.group);
    const ctl = await openPreview(config, { stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR });
    let view: PlanJson;
    try {
      view = planView(await ctl.reconciler.preview(only), ctl.storeRead);
    } finally {
      await ctl.close();
    }
    if (values.json === true) io.out(JSON.stringify(view));
    else printHuman(view, io);
    if (view.groups.some((g) => g.error !== null)) return EXIT.failure;
    return view.changes ? EXIT.changes : EXIT.ok;
  },
};

export const planCommands: readonly Command[] = [plan];
