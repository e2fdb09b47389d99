import { ScheduleError } from '../domain/errors.js';
import { formatInstant, parseInstant } from '../domain/time.js';
import { describeExpression } from '../schedule/describe.js';
import { parseExpression } from '../schedule/expression.js';
import { type Occurrence, Schedule, type WindowOptions } from '../schedule/schedule.js';
import type { TimeZone } from '../schedule/tz.js';
import { type CliIo, type Command, EXIT, intOption, parse, table, UsageError } from './io.js';

const WINDOW_FLAGS = {
  timezone: { type: 'string' },
  'offset-days': { type: 'string' },
  'duration-hours': { type: 'string' },
  'cutoff-hours': { type: 'string' },
  'start-date': { type: 'string' },
  'end-date': { type: 'string' },
  'created-at': { type: 'string' },
  disabled: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** Engine option names -> the flags a CLI user typed, so errors name what they can fix. */
const FLAG_OF: Record<string, string> = {
  timezone: '--timezone',
  offsetDays: '--offset-days',
  durationHours: '--duration-hours',
  cutoffHours: '--cutoff-hours',
  startDate: '--start-date',
  endDate: '--end-date',
  createdAt: '--created-at',
};

const WINDOW_HELP = `Window options:
  --timezone TZ           IANA time zone the expression is read in (default UTC), e.g. America/New_York
  --offset-days N         ScheduleOffset: run N wall-clock days after each cron match (1-6, cron only)
  --duration-hours H      window length in whole hours (1-24)
  --cutoff-hours C        no task starts in the last C hours (0 to duration-1)
  --start-date ISO        no run before this instant (inclusive)
  --end-date ISO          no run after this instant (inclusive)
  --created-at ISO        creation time: anchors rate(...) and applies the ScheduleOffset creation rule
  --disabled              the window is disabled: it never runs
  --json                  machine-readable output

Instants are ISO-8601 (2026-03-08T07:30:00Z, 2026-03-08T02:30-05:00); without an offset they are UTC.
DST: a local time that falls in a spring-forward gap is skipped; a repeated local time runs once, at the
earlier instant.`;

interface WindowFlags {
  timezone?: string | undefined;
  'offset-days'?: string | undefined;
  'duration-hours'?: string | undefined;
  'cutoff-hours'?: string | undefined;
  'start-date'?: string | undefined;
  'end-date'?: string | undefined;
  'created-at'?: string | undefined;
  disabled?: boolean | undefined;
}

function optionalInstant(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : parseInstant(value, flag);
}

function windowOptions(v: WindowFlags): WindowOptions {
  return {
    timezone: v.timezone,
    offsetDays: intOption(v['offset-days'], '--offset-days', 0, 6),
    durationHours: intOption(v['duration-hours'], '--duration-hours', 1, 24),
    cutoffHours: intOption(v['cutoff-hours'], '--cutoff-hours', 0, 23),
    startDate: optionalInstant(v['start-date'], '--start-date'),
    endDate: optionalInstant(v['end-date'], '--end-date'),
    createdAt: optionalInstant(v['created-at'], '--created-at'),
    enabled: v.disabled !== true,
  };
}

/** Compiles the schedule, renaming option fields to their CLI flags in errors. */
function compile(expression: string, options: WindowOptions): Schedule {
  try {
    return Schedule.parse(expression, options);
  } catch (err) {
    if (err instanceof ScheduleError && FLAG_OF[err.field] !== undefined) throw new ScheduleError(FLAG_OF[err.field] ?? err.field, err.reason);
    throw err;
  }
}

function expressionArg(positionals: string[], usage: string): string {
  if (positionals.length === 0) throw new UsageError('expression', `missing the schedule expression; usage: ${usage}`);
  if (positionals.length > 1) throw new UsageError('expression', `expected one expression (quote it), got ${positionals.length} arguments: ${positionals.join(' ')}`);
  return positionals[0] ?? '';
}

function localText(zone: TimeZone, ms: number): string {
  const l = zone.toLocal(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${l.year}-${p(l.month)}-${p(l.day)} ${p(l.hour)}:${p(l.minute)}:${p(l.second)} ${zone.offsetLabel(ms)}`;
}

function occurrenceJson(o: Occurrence): Record<string, string> {
  const out: Record<string, string> = { start: formatInstant(o.start) };
  if (o.end !== undefined) out['end'] = formatInstant(o.end);
  if (o.lastTaskStart !== undefined) out['lastTaskStart'] = formatInstant(o.lastTaskStart);
  return out;
}

const NEXT_USAGE = `fleetwarden schedule next '<expression>' --after ISO [--count N] [window options] [--json]`;

const next: Command = {
  name: 'next',
  summary: 'list the next occurrences of a schedule after an instant',
  help: `Usage: ${NEXT_USAGE}

Lists the next N (default 5, at most 10000) occurrences strictly after --after.
With --duration-hours each occurrence has an end and a last task start (end − cutoff).

${WINDOW_HELP}

Example:
  fleetwarden schedule next 'cron(0 30 23 ? * TUE#3 *)' --timezone America/New_York --offset-days 2 \\
      --duration-hours 4 --cutoff-hours 1 --after 2026-11-01T00:00:00Z --count 3`,
  run(args: string[], io: CliIo): number {
    const { values, positionals } = parse(args, { ...WINDOW_FLAGS, after: { type: 'string' }, count: { type: 'string' } });
    const expression = expressionArg(positionals, NEXT_USAGE);
    if (values.after === undefined) throw new UsageError('--after', 'is required: the instant to list occurrences after, e.g. --after 2026-01-01T00:00:00Z');
    const after = parseInstant(values.after, '--after');
    const count = intOption(values.count, '--count', 1, 10_000) ?? 5;
    const schedule = compile(expression, windowOptions(values));
    const occurrences = schedule.next(after, count);
    if (values.json === true) {
      io.out(JSON.stringify({ occurrences: occurrences.map(occurrenceJson) }));
      return EXIT.ok;
    }
    const zone = schedule.zone;
    const headers = ['#', 'start (UTC)', `start (${zone.name})`];
    if (schedule.hasDuration) headers.push('end (UTC)', `end (${zone.name})`, 'last task start (UTC)');
    const rows = occurrences.map((o, i) => {
      const row = [String(i + 1), formatInstant(o.start), localText(zone, o.start)];
      if (o.end !== undefined && o.lastTaskStart !== undefined) row.push(formatInstant(o.end), localText(zone, o.end), formatInstant(o.lastTaskStart));
      return row;
    });
    io.out(occurrences.length === 0 ? 'No occurrences after that instant (disabled, past its end date or year range, or never matching).' : table(headers, rows));
    return EXIT.ok;
  },
};

const ACTIVE_USAGE = `fleetwarden schedule active '<expression>' --at ISO [--at ISO ...] --duration-hours H [--start-ahead-minutes M] [window options] [--json]`;

const active: Command = {
  name: 'active',
  summary: 'tell whether a window is active at given instants',
  help: `Usage: ${ACTIVE_USAGE}

For each --at, tells whether a window of the schedule is active then: start − start-ahead ≤ at < end.
A window that began before --at and has not ended is active. --duration-hours is required.

  --start-ahead-minutes M  count M minutes before each start as active (default 0; fleets use 15)

${WINDOW_HELP}`,
  run(args: string[], io: CliIo): number {
    const { values, positionals } = parse(args, { ...WINDOW_FLAGS, at: { type: 'string', multiple: true }, 'start-ahead-minutes': { type: 'string' } });
    const expression = expressionArg(positionals, ACTIVE_USAGE);
    const ats = (values.at ?? []).map((a) => parseInstant(a, '--at'));
    if (ats.length === 0) throw new UsageError('--at', 'is required: the instant(s) to check, e.g. --at 2026-01-01T09:30:00Z');
    if (values['duration-hours'] === undefined) throw new UsageError('--duration-hours', 'is required: a window needs a length to be active');
    const aheadMs = (intOption(values['start-ahead-minutes'], '--start-ahead-minutes', 0, 10_080) ?? 0) * 60_000;
    const schedule = compile(expression, windowOptions(values));
    const results = ats.map((at) => ({ at, window: schedule.windowAt(at, aheadMs) }));
    if (values.json === true) {
      io.out(
        JSON.stringify({
          results: results.map((r) => ({
            at: formatInstant(r.at),
            active: r.window !== null,
            window: r.window === null ? null : { start: formatInstant(r.window.start), end: formatInstant(r.window.end), lastTaskStart: formatInstant(r.window.lastTaskStart) },
          })),
        }),
      );
      return EXIT.ok;
    }
    const rows = results.map((r) => [
      formatInstant(r.at),
      r.window === null ? 'no' : r.window.start > r.at ? 'yes (start-ahead)' : 'yes',
      r.window === null ? '' : `${formatInstant(r.window.start)} → ${formatInstant(r.window.end)}`,
    ]);
    io.out(table(['at', 'active', 'window'], rows));
    return EXIT.ok;
  },
};

const check: Command = {
  name: 'check',
  summary: 'validate an expression and describe it in plain English',
  help: `Usage: fleetwarden schedule check '<expression>' [--json]

Validates a schedule expression (cron(...), rate(...) or at(...)) as AWS maintenance windows accept it and
prints what it means. On an invalid expression, prints the field and the reason on stderr and exits 2.`,
  run(args: string[], io: CliIo): number {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } });
    const expr = parseExpression(expressionArg(positionals, `fleetwarden schedule check '<expression>'`));
    const description = describeExpression(expr);
    io.out(values.json === true ? JSON.stringify({ valid: true, kind: expr.kind, expression: expr.source, description }) : `valid: ${description}`);
    return EXIT.ok;
  },
};

export const scheduleCommands: readonly Command[] = [next, active, check];

