/**
 * `fleetwarden workload start|stop NAME`: a tiered workload (seed 003) started or stopped on demand. The ordered plan
 * is printed first; `--dry-run` stops there (a read: nothing in the store changes); otherwise the action is a run-time
 * override of `workload.state` with a TTL and a reason, carried out tick by tick by the controller in tier order.
 */
import { checkWorkloadAction, type WorkloadAction, workloadAct, workloadPlanView } from '../api/services.js';
import * as wire from '../api/wire.js';
import { type CliIo, type Command, escapeControl, EXIT, parse, table, UsageError } from './io.js';
import { TARGET_HELP, TARGET_OPTIONS, viaApiOrStore } from './remote.js';

/** The plan, and with an action the override that carries it out. */
type PlanJson = wire.WorkloadPlanJson & { override?: wire.OverrideSetJson };

function render(view: PlanJson, dryRun: boolean): string {
  const lines: string[] = [];
  const s = view.workload.state;
  lines.push(`${view.group}: ${view.action} plan at ${view.at}; workload.state is ${s.value} (${s.setBy}${s.expiresAt === null ? '' : ` until ${s.expiresAt}`})${view.workload.killSwitch.value === 'true' ? '; KILL SWITCH ON' : ''}`);
  for (const n of view.plan.notes) lines.push(`note: ${n}`);
  view.plan.steps.forEach((step, i) => {
    lines.push(`step ${i + 1} — ${view.action} sequence ${step.sequence}${i === 0 ? '' : ' (after the previous step is done)'}`);
    for (const t of step.tiers) {
      lines.push(`  tier ${t.name}${t.synchronous ? ' (one instance at a time)' : ''}${t.notes.length === 0 ? '' : `: ${t.notes.join('; ')}`}`);
      if (t.instances.length === 0) lines.push('    no instance');
      else lines.push(...table(['instance', 'state', 'plan', 'why'], t.instances.map((x) => [x.instance, x.state, x.action, x.why])).split('\n').map((l) => `    ${l}`));
    }
  });
  if (view.plan.untiered.length > 0) lines.push(`in no tier (left alone): ${view.plan.untiered.map((u) => `${u.instance} (${u.why})`).join(', ')}`);
  if (view.plan.blocked !== null) lines.push(`blocked now: ${view.plan.blocked}`);
  if (dryRun) lines.push('dry run: nothing was changed');
  else if (view.override !== undefined) lines.push(`${view.group}: workload.state = ${view.override.value} until ${view.override.expiresAt} (${view.override.reason}); the controller carries the plan out tier by tier`);
  return lines.map(escapeControl).join('\n');
}

function workloadCommand(name: WorkloadAction): Command {
  const value = name === 'start' ? 'running' : 'stopped';
  return {
    name,
    summary: `${name} a tiered workload now, tier by tier (prints the ordered plan; --dry-run changes nothing)`,
    help: `Usage: fleetwarden workload ${name} NAME (--dry-run | --ttl DURATION --reason TEXT) [--json] [--url URL] ...

Prints the ordered ${name} plan of the tiered workload NAME — step by step in ${name}-sequence order, each tier's
instances, which the sequence ${name}s, which are already ${value} and which are bypassed and why (excluded,
${name === 'start' ? 'unstartable, in error back-off' : 'unstoppable, ignoreStop, bypass file present'}) — then acts: sets
workload.state = ${value} as a run-time override for --ttl, with --reason (the highest layer: it holds against schedules
and windows until it expires${name === 'stop' ? '; an active window still holds the stop until it ends' : ''}). The controller carries it out tier by tier.
Refused while the workload's kill switch (workload.killSwitch) is on.

  --dry-run         print the plan only; nothing is changed
  --ttl DURATION    how long the override lasts (e.g. 8h)
  --reason TEXT     why (kept with the override and in the history)
  --json            the plan (and the override) as JSON
${TARGET_HELP}`,
    async run(args: string[], io: CliIo): Promise<number> {
      const { values, positionals } = parse(args, { ...TARGET_OPTIONS, 'dry-run': { type: 'boolean' }, ttl: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } });
      const group = positionals[0];
      if (group === undefined) throw new UsageError('NAME', `is required: fleetwarden workload ${name} NAME (--dry-run | --ttl 8h --reason TEXT)`);
      if (positionals.length > 1) throw new UsageError('NAME', `one workload at a time, got ${positionals.length} names`);
      const action = checkWorkloadAction(name, 'action');
      const dryRun = values['dry-run'] === true;
      if (dryRun && (values.ttl !== undefined || values.reason !== undefined)) throw new UsageError('--dry-run', 'changes nothing: --ttl and --reason do not apply');
      if (!dryRun && values.ttl === undefined) throw new UsageError('--ttl', `is required (or --dry-run), e.g. --ttl 8h`);
      if (!dryRun && values.reason === undefined) throw new UsageError('--reason', 'is required (or --dry-run), e.g. --reason "month-end close"');
      const path = `/v1/groups/${encodeURIComponent(group)}/workload/${action}`;
      const body = { ttl: values.ttl ?? '', reason: values.reason ?? '' };
      const view: PlanJson = await viaApiOrStore<PlanJson>(
        values,
        (api) => (dryRun ? api.call('GET', path, wire.workloadPlanJson) : api.call('POST', path, wire.workloadActJson, body)),
        (store, config, local) => (dryRun ? workloadPlanView(store, config, group, action, local.now) : workloadAct(store, config, group, action, body, local.now)),
      );
      io.out(values.json === true ? JSON.stringify({ ...view, dryRun }) : render(view, dryRun));
      return EXIT.ok;
    },
  };
}

export const workloadCommands: readonly Command[] = [workloadCommand('start'), workloadCommand('stop')];
