import type { EventKey } from '../config/keys.js';
import { formatDuration } from '../domain/durations.js';
import type { EventName } from '../domain/model.js';
import type { Member, PlanContext } from './context.js';

/** Where the current round of an event stands for one instance. */
export type EventOutcome = 'success' | 'failed' | 'in flight' | 'not sent' | 'gave up';

/** Beyond the script's own timeout, the time a delivery may take before an unanswered send counts as failed. */
const DELIVERY_MARGIN_MS = 30_000;

function keyOf(event: EventName): EventKey {
  return event.startsWith('instance-state-change-') ? 'instance-state-change' : (event as EventKey);
}

/** The outcome of `event`'s round that began at `roundStart` (by default: when the instance entered its state). */
export function eventOutcome(ctx: PlanContext, m: Member, event: EventName, roundStart = m.record.since): EventOutcome {
  const rec = m.record.events?.[event];
  if (rec === undefined || rec.firstSentAt < roundStart) return 'not sent';
  if (rec.status === 'success') return 'success';
  if (ctx.now - rec.firstSentAt >= ctx.settings.event(keyOf(event)).timeLimitMs) return 'gave up';
  if (rec.status === 'sent' && ctx.now - rec.lastSentAt < ctx.settings.scriptTimeoutMs + DELIVERY_MARGIN_MS) return 'in flight';
  return 'failed';
}

/** Sends `event` unless its round already succeeded, is in flight, or ran out of time. */
function ensureSent(ctx: PlanContext, m: Member, event: EventName, args: readonly string[], reason: string, roundStart: number): EventOutcome {
  const outcome = eventOutcome(ctx, m, event, roundStart);
  switch (outcome) {
    case 'success':
    case 'in flight':
      return outcome;
    case 'gave up':
      ctx.why.push(`${m.obs.id}: ${event} still failing after ${formatDuration(ctx.settings.event(keyOf(event)).timeLimitMs)}; no longer sent`);
      return outcome;
    case 'failed':
    case 'not sent':
      ctx.sendEvent(m, event, args, outcome === 'failed' ? `${reason} (retry)` : reason, roundStart);
      return outcome;
  }
}

/**
 * Event delivery for every member: readiness probes for the states that wait on them, window enter/exit when an
 * instance's period type changes (and to each newly up instance), and retries of the current state-change event.
 */
export function applyEvents(ctx: PlanContext): void {
  const s = ctx.settings;
  for (const m of ctx.members) {
    if (m.obs.power !== 'running') {
      if (m.record.periodNotice !== undefined) ctx.patch(m, { periodNotice: undefined });
      continue;
    }
    const state = m.record.state;
    if (state === 'initializing' && s.event('instance-ready-for-operation').enabled) {
      ensureSent(ctx, m, 'instance-ready-for-operation', [], 'probe: ready for operation?', m.record.since);
    }
    if (state === 'draining' && s.event('instance-ready-for-shutdown').enabled) {
      ensureSent(ctx, m, 'instance-ready-for-shutdown', [], 'probe: ready for shutdown?', m.record.since);
    }
    if (state === 'initializing' || state === 'running') notifyPeriod(ctx, m);
    else if (m.record.periodNotice !== undefined) ctx.patch(m, { periodNotice: undefined }); // only an instance in service is told
    const stateEvent: EventName = `instance-state-change-${state}`;
    const last = m.record.events?.[stateEvent];
    if (s.event('instance-state-change').enabled && last !== undefined && last.firstSentAt >= m.record.since) {
      ensureSent(ctx, m, stateEvent, last.args ?? [state], `state change to ${state}`, m.record.since);
    }
  }
}

function notifyPeriod(ctx: PlanContext, m: Member): void {
  const type: 'in-window' | 'out-of-window' = ctx.resolved.windows.inWindow(m.fleet) ? 'in-window' : 'out-of-window';
  if (m.record.notifiedPeriod === type) {
    if (m.record.periodNotice !== undefined) ctx.patch(m, { periodNotice: undefined });
    return;
  }
  const event = type === 'in-window' ? 'enter-maintenance-window-period' : 'exit-maintenance-window-period';
  if (!ctx.settings.event(event).enabled) {
    ctx.patch(m, { notifiedPeriod: type, periodNotice: undefined });
    return;
  }
  const notice = m.record.periodNotice?.type === type ? m.record.periodNotice : { type, since: ctx.now };
  if (m.record.periodNotice !== notice) ctx.patch(m, { periodNotice: notice });
  const outcome = ensureSent(ctx, m, event, [], type === 'in-window' ? 'entering a maintenance window period' : 'leaving a maintenance window period', notice.since);
  if (outcome === 'success' || outcome === 'gave up') ctx.patch(m, { notifiedPeriod: type, periodNotice: undefined });
}
