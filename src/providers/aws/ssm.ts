import type { TaskRunResult } from '../../maintenance/model.js';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  type DescribeInstanceInformationCommandOutput,
  DescribeMaintenanceWindowsCommand,
  type DescribeMaintenanceWindowsCommandOutput,
  GetMaintenanceWindowCommand,
  ListCommandInvocationsCommand,
  type ListCommandInvocationsCommandOutput,
  ListTagsForResourceCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { Naming } from '../../config/config.js';
import type { SsmWindowInfo } from '../../config/ssm-windows.js';
import type { EventName, EventResult } from '../../domain/model.js';
import type { BypassCheckResult } from '../../planner/types.js';
import type { Clock, CommandHandle, CommandResults, CommandRunner, ScriptOptions, WindowSource } from '../../ports/index.js';
import type { AwsCall } from '../../ports/aws-calls.js';
import { errorKind, ProviderError } from '../../domain/errors.js';
import { awsCall } from './errors.js';
import { bypassCheckScript, eventHelperScript, parseBypassOutput, parseHelperOutput, powershellEventHelperScript, WINDOWS_EVENT_DIR } from './helper.js';

/**
 * Every SSM call this adapter makes (ports/aws-calls.ts): the IAM policy is generated from it. Windows come from discovery;
 * commands are sent for events and bypass checks (shell or PowerShell), and for maintenance tasks: the documents the
 * configuration's tasks run (AWS-RunShellScript for a `command`, a task's own `document`), cancelled by CancelCommand.
 */
export const SSM_CALLS: readonly AwsCall[] = [
  { service: 'ssm', operation: 'DescribeMaintenanceWindows', action: 'ssm:DescribeMaintenanceWindows', features: ['window-discovery'], resource: { kind: 'any' }, mutating: false },
  { service: 'ssm', operation: 'ListTagsForResource', action: 'ssm:ListTagsForResource', features: ['window-discovery'], resource: { kind: 'any' }, mutating: false },
  { service: 'ssm', operation: 'GetMaintenanceWindow', action: 'ssm:GetMaintenanceWindow', features: ['window-discovery'], resource: { kind: 'any' }, mutating: false },
  { service: 'ssm', operation: 'DescribeInstanceInformation', action: 'ssm:DescribeInstanceInformation', features: ['events', 'maintenance-tasks'], resource: { kind: 'any' }, mutating: false },
  { service: 'ssm', operation: 'SendCommand', action: 'ssm:SendCommand', features: ['events'], resource: { kind: 'document', name: 'AWS-RunShellScript' }, mutating: true },
  { service: 'ssm', operation: 'SendCommand', action: 'ssm:SendCommand', features: ['events'], resource: { kind: 'document', name: 'AWS-RunPowerShellScript' }, mutating: true },
  { service: 'ssm', operation: 'SendCommand', action: 'ssm:SendCommand', features: ['maintenance-tasks'], resource: { kind: 'task-documents' }, mutating: true },
  { service: 'ssm', operation: 'SendCommand', action: 'ssm:SendCommand', features: ['events', 'maintenance-tasks'], resource: { kind: 'group-instances' }, mutating: true },
  { service: 'ssm', operation: 'ListCommandInvocations', action: 'ssm:ListCommandInvocations', features: ['events', 'maintenance-tasks'], resource: { kind: 'any' }, mutating: false },
  // IAM has no resource type for CancelCommand: granted on * by the one exception app/iam-policy.ts makes (it only stops commands).
  { service: 'ssm', operation: 'CancelCommand', action: 'ssm:CancelCommand', features: ['maintenance-tasks'], resource: { kind: 'any' }, mutating: true },
];

/** SendCommand accepts at most 50 instance ids per call. */
export const SEND_COMMAND_MAX = 50;
/** Delivery timeout of a command that has not started (SSM's minimum). */
const DELIVERY_TIMEOUT_S = 30;
/** Final invocation statuses (`Cancelling` is not: the script may still run until SSM says `Cancelled`). */
const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

/** The platforms commands are written for, and the document that runs each one's script. */
type Platform = 'linux' | 'windows';
const DOCUMENTS: Readonly<Record<Platform, string>> = { linux: 'AWS-RunShellScript', windows: 'AWS-RunPowerShellScript' };

/** SSM's PlatformType (`Linux`, `Windows`, `MacOS`) → the platform a script is written for; null = none of ours. */
function platformOf(ssmPlatform: string | undefined): Platform | null {
  return ssmPlatform === 'Linux' ? 'linux' : ssmPlatform === 'Windows' ? 'windows' : null;
}

export interface SsmOptions {
  readonly client?: SSMClient;
  readonly clock: Clock;
  readonly naming: Naming;
  /** Window tags are re-read this often [5 min]; the window list itself every call. */
  readonly tagRefreshMs?: number;
  /** S3 bucket and prefix for full command output (SSM keeps 2500 characters otherwise). */
  readonly outputBucket?: string;
  readonly outputPrefix?: string;
}

/**
 * SSM for maintenance-window discovery (WindowSource) and in-instance event delivery (CommandRunner).
 * Events go by SendCommand — AWS-RunShellScript with the POSIX helper to Linux instances, AWS-RunPowerShellScript
 * with the PowerShell helper to Windows ones, 50 instances a call; results are read per invocation from
 * ListCommandInvocations and judged by the helper's status line.
 */
export class SsmAdapter implements WindowSource, CommandRunner {
  private readonly ssm: SSMClient;
  private readonly clock: Clock;
  private readonly naming: Naming;
  private readonly tagRefreshMs: number;
  private readonly output: { bucket: string; prefix: string } | null;
  private readonly tags = new Map<string, { at: number; tags: Record<string, string> }>();
  /** Creation times of rate() windows (they never change); a failed read is tried again after `tagRefreshMs`. */
  private readonly created = new Map<string, { at: number; createdAt: string } | { at: number; error: string }>();
  private readonly managed = new Map<string, { at: number; online: boolean; platform: string }>();
  /** Instances a command could not be sent to (no SSM agent online, no script for their platform): answered without asking SSM. */
  private readonly undeliverable = new Map<string, { instanceId: string; detail: string }[]>();

  constructor(o: SsmOptions) {
    this.ssm = o.client ?? new SSMClient({});
    this.clock = o.clock;
    this.naming = o.naming;
    this.tagRefreshMs = o.tagRefreshMs ?? 5 * 60_000;
    this.output = o.outputBucket === undefined ? null : { bucket: o.outputBucket, prefix: o.outputPrefix ?? 'fleetwarden/' };
  }

  /** Every SDK call goes through here: its error leaves as a ProviderError (providers/aws/errors.ts). */
  private send<T>(fn: () => Promise<T>): Promise<T> {
    return awsCall('ssm', fn);
  }

  /** Windows named by the convention (an account holds at most 50 per region; the prefix is matched here). */
  async list(): Promise<SsmWindowInfo[]> {
    const out: SsmWindowInfo[] = [];
    let token: string | undefined;
    const prefix = `${this.naming.windowPrefix}-`;
    do {
      const page: DescribeMaintenanceWindowsCommandOutput = await this.send(() => this.ssm.send(new DescribeMaintenanceWindowsCommand({ MaxResults: 100, ...(token === undefined ? {} : { NextToken: token }) })));
      for (const w of page.WindowIdentities ?? []) {
        if (w.WindowId === undefined || w.Name === undefined || !w.Name.startsWith(prefix) || w.Schedule === undefined) continue;
        out.push({
          id: w.WindowId,
          name: w.Name,
          schedule: w.Schedule,
          durationHours: w.Duration ?? 1,
          cutoffHours: w.Cutoff ?? 0,
          enabled: w.Enabled ?? true,
          tags: await this.tagsOf(w.WindowId),
          ...(w.Schedule.trim().startsWith('rate(') ? await this.createdAtOf(w.WindowId) : {}),
          ...(w.ScheduleTimezone === undefined ? {} : { timezone: w.ScheduleTimezone }),
          ...(w.ScheduleOffset === undefined ? {} : { offsetDays: w.ScheduleOffset }),
          ...(w.StartDate === undefined ? {} : { startDate: w.StartDate }),
          ...(w.EndDate === undefined ? {} : { endDate: w.EndDate }),
          ...(w.NextExecutionTime === undefined ? {} : { nextExecutionTime: w.NextExecutionTime }),
        });
      }
      token = page.NextToken;
    } while (token !== undefined && token !== '');
    return out;
  }

  /**
   * The creation time of a rate() window: SSM anchors its runs on it (DescribeMaintenanceWindows does not return it,
   * GetMaintenanceWindow does). Read once per window. A window it cannot be read for is reported, not fatal: without
   * a StartDate it fails closed, like any window whose schedule cannot be evaluated.
   */
  private async createdAtOf(windowId: string): Promise<{ createdAt: string } | { createdAtError: string }> {
    const now = this.clock.now();
    const cached = this.created.get(windowId);
    if (cached !== undefined && ('createdAt' in cached || now - cached.at < this.tagRefreshMs)) return 'createdAt' in cached ? { createdAt: cached.createdAt } : { createdAtError: cached.error };
    let entry: { at: number; createdAt: string } | { at: number; error: string };
    try {
      const r = await this.send(() => this.ssm.send(new GetMaintenanceWindowCommand({ WindowId: windowId })));
      const t = r.CreatedDate?.getTime();
      entry = t === undefined || Number.isNaN(t) ? { at: now, error: 'GetMaintenanceWindow returned no CreatedDate' } : { at: now, createdAt: new Date(t).toISOString() };
    } catch (err) {
      if (!(err instanceof ProviderError) || errorKind(err) === 'retryable') throw err; // throttling: the tick is retried as a whole
      entry = { at: now, error: err.message };
    }
    this.created.set(windowId, entry);
    return 'createdAt' in entry ? { createdAt: entry.createdAt } : { createdAtError: entry.error };
  }

  private async tagsOf(windowId: string): Promise<Record<string, string>> {
    const now = this.clock.now();
    const cached = this.tags.get(windowId);
    if (cached && now - cached.at < this.tagRefreshMs) return cached.tags;
    const r = await this.send(() => this.ssm.send(new ListTagsForResourceCommand({ ResourceType: 'MaintenanceWindow', ResourceId: windowId })));
    const tags = Object.fromEntries((r.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    this.tags.set(windowId, { at: now, tags });
    return tags;
  }

  /** SSM-managed state of instances (DescribeInstanceInformation), cached for 5 minutes; only asked when sending. */
  async managedInstances(ids: readonly string[]): Promise<Map<string, { online: boolean; platform: string }>> {
    const now = this.clock.now();
    const stale = ids.filter((id) => {
      const m = this.managed.get(id);
      return m === undefined || now - m.at >= this.tagRefreshMs;
    });
    for (let i = 0; i < stale.length; i += SEND_COMMAND_MAX) {
      const chunk = stale.slice(i, i + SEND_COMMAND_MAX);
      for (const id of chunk) this.managed.set(id, { at: now, online: false, platform: 'unknown' });
      let token: string | undefined;
      do {
        const page: DescribeInstanceInformationCommandOutput = await this.send(() => this.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: chunk }], ...(token === undefined ? {} : { NextToken: token }) })));
        for (const info of page.InstanceInformationList ?? []) {
          if (info.InstanceId !== undefined) this.managed.set(info.InstanceId, { at: now, online: info.PingStatus === 'Online', platform: info.PlatformType ?? 'unknown' });
        }
        token = page.NextToken;
      } while (token !== undefined && token !== '');
    }
    return new Map(ids.map((id) => [id, this.managed.get(id) ?? { online: false, platform: 'unknown' }]));
  }

  /**
   * Sends one command to instances, the script chosen by each instance's platform as SSM reports it (the platform
   * SSM itself matches documents against): one SendCommand per document and 50 instances. Instances without an SSM
   * agent online, or on a platform the command has no script for, are answered at once as undeliverable. `run`: a
   * task's own document, sent instead to every online instance whatever its platform (the document decides where it
   * runs), and the task's own output location.
   */
  private async sendScript(kind: 'event' | 'bypass' | 'script', group: string, all: readonly string[], scripts: Partial<Record<Platform, string>>, timeoutSeconds: number, comment: string, event?: EventName, run: Omit<ScriptOptions, 'mayRerun'> = {}): Promise<CommandHandle> {
    const managed = await this.managedInstances(all);
    /** Instances per document name, with the parameters that document gets. */
    const byDocument = new Map<string, { parameters: Record<string, string[]>; ids: string[] }>();
    const add = (document: string, parameters: Record<string, string[]>, id: string): void => {
      const entry = byDocument.get(document) ?? { parameters, ids: [] };
      entry.ids.push(id);
      byDocument.set(document, entry);
    };
    const skipped: { instanceId: string; detail: string }[] = [];
    for (const id of all) {
      const m = managed.get(id);
      const platform = platformOf(m?.platform);
      const script = platform === null ? undefined : scripts[platform];
      if (m?.online !== true) skipped.push({ instanceId: id, detail: 'Undeliverable: no SSM agent online' });
      // A document gets its own parameters only: executionTimeout is AWS-RunShellScript's, others may refuse it.
      else if (run.document !== undefined) add(run.document.name, Object.fromEntries(Object.entries(run.document.parameters).map(([k, v]) => [k, [...v]])), id);
      else if (platform === null || script === undefined) skipped.push({ instanceId: id, detail: `Invalid Platform: ${m.platform}` });
      else add(DOCUMENTS[platform], { commands: [script], executionTimeout: [String(timeoutSeconds + 10)] }, id);
    }
    const output = run.output ?? this.output;
    const commandIds: string[] = [];
    for (const [document, { parameters, ids }] of byDocument) {
      for (let i = 0; i < ids.length; i += SEND_COMMAND_MAX) {
        const r = await this.send(() =>
          this.ssm.send(
            new SendCommandCommand({
              DocumentName: document,
              InstanceIds: ids.slice(i, i + SEND_COMMAND_MAX),
              Parameters: parameters,
              TimeoutSeconds: DELIVERY_TIMEOUT_S,
              Comment: comment.slice(0, 100),
              ...(output ? { OutputS3BucketName: output.bucket, OutputS3KeyPrefix: output.prefix } : {}),
            }),
          ),
        );
        if (r.Command?.CommandId !== undefined) commandIds.push(r.Command.CommandId);
      }
    }
    const id = commandIds.length > 0 ? commandIds.join(',') : `undeliverable-${this.clock.now()}-${all[0] ?? ''}`;
    if (skipped.length > 0) this.undeliverable.set(id, skipped);
    return { id, kind, group, instanceIds: [...all], sentAt: this.clock.now(), ...(event === undefined ? {} : { event }) };
  }

  runEvent(group: string, ids: readonly string[], event: EventName, args: readonly string[], timeoutMs: number): Promise<CommandHandle> {
    const timeoutSeconds = Math.max(1, Math.round(timeoutMs / 1000));
    const scripts = {
      linux: eventHelperScript({ dir: this.naming.eventDir, event, args, timeoutSeconds }),
      windows: powershellEventHelperScript({ dir: WINDOWS_EVENT_DIR, event, args, timeoutSeconds }),
    };
    return this.sendScript('event', group, ids, scripts, timeoutSeconds, `fleetwarden ${group}: ${event}`, event);
  }

  /** The path is written for one OS (the tier's `bypassFile.os`): instances of the other are answered `unknown`. */
  checkBypass(group: string, ids: readonly string[], path: string, os: 'linux' | 'windows'): Promise<CommandHandle> {
    return this.sendScript('bypass', group, ids, { [os]: bypassCheckScript(path, os) }, 30, `fleetwarden ${group}: bypass check`);
  }

  private readonly scriptsSent = new Map<string, CommandHandle>();

  /**
   * A maintenance script by SendCommand (AWS-RunShellScript, or the task's document with its parameters); SSM
   * Agent itself reboots on exit 194 and runs the script again. A repeat of the same command id is not sent twice by
   * this process (SSM has no idempotency token: a controller killed between SendCommand and its commit may send it
   * once more after a restart).
   */
  async runScript(group: string, instanceId: string, commandId: string, script: string, timeoutMs: number, options: ScriptOptions = { mayRerun: false }): Promise<CommandHandle> {
    const seen = this.scriptsSent.get(commandId);
    if (seen !== undefined) return seen;
    const timeoutSeconds = Math.max(30, Math.round(timeoutMs / 1000));
    const run = { ...(options.document === undefined ? {} : { document: options.document }), ...(options.output === undefined ? {} : { output: options.output }) };
    const sent = await this.sendScript('script', group, [instanceId], { linux: script }, timeoutSeconds, `fleetwarden ${commandId}`, undefined, run);
    const handle: CommandHandle = { ...sent, id: commandId, ref: sent.id };
    this.scriptsSent.set(commandId, handle);
    if (this.undeliverable.has(sent.id)) {
      this.undeliverable.set(commandId, this.undeliverable.get(sent.id) ?? []);
      this.undeliverable.delete(sent.id);
    }
    return handle;
  }

  /** CancelCommand for one instance of the script's SSM command (its id is the handle's `ref`, kept in the store). */
  async cancel(handle: CommandHandle, instanceId: string): Promise<void> {
    const ref = handle.ref ?? this.scriptsSent.get(handle.id)?.ref;
    for (const commandId of (ref ?? '').split(',').filter((x) => x !== '' && !x.startsWith('undeliverable-'))) {
      await this.send(() => this.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] })));
    }
  }

  async results(handles: readonly CommandHandle[]): Promise<CommandResults> {
    const out: { events: EventResult[]; bypass: BypassCheckResult[]; scripts: TaskRunResult[]; finished: string[] } = { events: [], bypass: [], scripts: [], finished: [] };
    for (const h of handles) {
      let open = 0;
      for (const u of this.undeliverable.get(h.id) ?? []) {
        if (h.kind === 'script') out.scripts.push({ commandId: h.id, instanceId: u.instanceId, status: 'undeliverable', exitCode: null, output: u.detail, at: this.clock.now(), reboots: 0 });
        else if (h.kind === 'bypass') out.bypass.push({ instanceId: u.instanceId, result: 'unknown', at: this.clock.now() });
        else if (h.event !== undefined) out.events.push({ instanceId: u.instanceId, event: h.event, ok: false, at: this.clock.now(), detail: u.detail });
      }
      this.undeliverable.delete(h.id);
      for (const commandId of (h.ref ?? h.id).split(',').filter((x) => x !== '' && !x.startsWith('undeliverable-'))) {
        let token: string | undefined;
        do {
          const page: ListCommandInvocationsCommandOutput = await this.send(() => this.ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true, ...(token === undefined ? {} : { NextToken: token }) })));
          for (const inv of page.CommandInvocations ?? []) {
            const instanceId = inv.InstanceId ?? '';
            if (!TERMINAL.has(inv.Status ?? '')) {
              open++;
              continue;
            }
            const output = (inv.CommandPlugins ?? []).map((p) => p.Output ?? '').join('\n');
            const at = this.clock.now();
            if (h.kind === 'script') {
              const status = inv.Status === 'Success' ? 'success' : inv.Status === 'Cancelled' ? 'cancelled' : inv.Status === 'TimedOut' && inv.StatusDetails !== 'DeliveryTimedOut' ? 'timed-out' : inv.Status === 'Failed' || inv.Status === 'TimedOut' ? 'failed' : 'undeliverable';
              const code = inv.CommandPlugins?.[0]?.ResponseCode;
              out.scripts.push({ commandId: h.id, instanceId, status, exitCode: code ?? null, output, at, reboots: 0 });
            } else if (h.kind === 'bypass') {
              out.bypass.push({ instanceId, result: inv.Status === 'Success' ? parseBypassOutput(output) : 'unknown', at });
            } else if (h.event !== undefined) {
              const parsed = parseHelperOutput(output);
              const ok = inv.Status === 'Success' && parsed.ok;
              out.events.push({ instanceId, event: h.event, ok, at, detail: inv.Status === 'Success' ? parsed.detail : `${inv.Status ?? 'unknown'}: ${inv.StatusDetails ?? ''}` });
            }
          }
          token = page.NextToken;
        } while (token !== undefined && token !== '');
      }
      // A command nobody answers is given up after an hour, like the delivery and execution timeouts would.
      if (open === 0 || this.clock.now() - h.sentAt > 3_600_000) {
        out.finished.push(h.id);
        this.scriptsSent.delete(h.id);
      }
    }
    return out;
  }
}
