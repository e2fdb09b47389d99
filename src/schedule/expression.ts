import { ScheduleError } from '../domain/errors.js';
import { type CronExpression, parseCron, YEAR_MAX, YEAR_MIN } from './cron.js';
import { daysInMonth, localMs } from './tz.js';

export const RATE_UNITS = ['minute', 'hour', 'day'] as const;
export type RateUnit = (typeof RATE_UNITS)[number];

export interface RateExpression {
  readonly kind: 'rate';
  readonly source: string;
  readonly value: number;
  readonly unit: RateUnit;
  /** Elapsed milliseconds between executions (days are 24 h, as EventBridge Scheduler documents). */
  readonly intervalMs: number;
}

export interface AtExpression {
  readonly kind: 'at';
  readonly source: string;
  /** The wall-clock time, encoded as if UTC; read in the window's time zone. */
  readonly localMs: number;
}

export type ScheduleExpression = CronExpression | RateExpression | AtExpression;

const MAX_EXPRESSION_LENGTH = 256;
const UNIT_MS: Record<RateUnit, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** Parses an AWS schedule expression. Throws `ScheduleError` naming the field and the reason. */
export function parseExpression(text: string): ScheduleExpression {
  if (typeof text !== 'string' || text.trim() === '') throw new ScheduleError('expression', 'schedule expression is empty; expected cron(...), rate(...) or at(...)');
  if (text.length > MAX_EXPRESSION_LENGTH) throw new ScheduleError('expression', `schedule expression is ${text.length} characters; at most ${MAX_EXPRESSION_LENGTH} are allowed`);
  const source = text.trim();
  const m = /^(cron|rate|at)\((.*)\)$/is.exec(source);
  if (!m) throw new ScheduleError('expression', `"${source}" is not a schedule expression; expected cron(...), rate(...) or at(...)`);
  const kind = (m[1] ?? '').toLowerCase();
  const body = m[2] ?? '';
  if (kind === 'cron') return parseCron(body, source);
  if (kind === 'rate') return parseRate(body, source);
  return parseAt(body, source);
}

function parseRate(body: string, source: string): RateExpression {
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(body);
  if (!m) throw new ScheduleError('rate', `"${body}" is not valid; expected rate(value unit), e.g. rate(30 minutes)`);
  const valueText = m[1] ?? '';
  const unitText = (m[2] ?? '').toLowerCase();
  if (!/^\d{1,6}$/.test(valueText) || Number(valueText) < 1) throw new ScheduleError('rate', `value "${valueText}" must be a whole number from 1 to 999999`);
  const value = Number(valueText);
  const singular = unitText.endsWith('s') ? unitText.slice(0, -1) : unitText;
  const unit = RATE_UNITS.find((u) => u === singular);
  if (unit === undefined) throw new ScheduleError('rate', `unit "${m[2] ?? ''}" is not valid; expected minute(s), hour(s) or day(s)`);
  if (value === 1 && unitText !== unit) throw new ScheduleError('rate', `use the singular unit with 1: rate(1 ${unit})`);
  if (value !== 1 && unitText === unit) throw new ScheduleError('rate', `use the plural unit with ${value}: rate(${value} ${unit}s)`);
  const intervalMs = value * UNIT_MS[unit];
  if (intervalMs < 5 * 60_000) throw new ScheduleError('rate', `rate(${value} ${unitText}) fires less than 5 minutes apart; maintenance windows run at most every 5 minutes`);
  return { kind: 'rate', source, value, unit, intervalMs };
}

function parseAt(body: string, source: string): AtExpression {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body.trim());
  if (!m) throw new ScheduleError('at', `"${body}" is not valid; expected at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-07-07T13:15:30)`);
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (year < YEAR_MIN || year > YEAR_MAX) throw new ScheduleError('at', `year ${year} is out of range ${YEAR_MIN}-${YEAR_MAX}`);
  if (month < 1 || month > 12) throw new ScheduleError('at', `month ${month} is out of range 1-12`);
  if (day < 1 || day > daysInMonth(year, month)) throw new ScheduleError('at', `day ${day} does not exist in ${year}-${String(month).padStart(2, '0')}`);
  if (hour > 23 || minute > 59 || second > 59) throw new ScheduleError('at', `time ${m[4] ?? ''}:${m[5] ?? ''}:${m[6] ?? ''} is not a valid time of day`);
  return { kind: 'at', source, localMs: localMs(year, month, day, hour * 3600 + minute * 60 + second) };
}
