import { ScheduleError } from '../domain/errors.js';
import { dayOfWeek, daysInMonth } from './tz.js';

/**
 * AWS's cron dialect for maintenance windows (Quartz's): `cron(min hour dom month dow year)` or the 7-field form
 * with leading seconds. Day-of-week is 1 = SUN ... 7 = SAT; exactly one of day-of-month/day-of-week is `?`.
 */
export const CRON_FIELDS = ['seconds', 'minutes', 'hours', 'day-of-month', 'month', 'day-of-week', 'year'] as const;
export type CronFieldName = (typeof CRON_FIELDS)[number];

export const YEAR_MIN = 1970;
export const YEAR_MAX = 2199;
const MIN_INTERVAL_SECONDS = 300;

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** Day-of-month rule. `any` is `?` (the other field decides); `every` is `*`. */
export type DomRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'every' }
  | { readonly kind: 'days'; readonly days: readonly number[] }
  | { readonly kind: 'last'; readonly minus: number }
  | { readonly kind: 'lastWeekday' }
  | { readonly kind: 'nearestWeekday'; readonly day: number };

/** Day-of-week rule, weekdays numbered 1 = SUN ... 7 = SAT. */
export type DowRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'every' }
  | { readonly kind: 'weekdays'; readonly weekdays: readonly number[] }
  | { readonly kind: 'lastOfMonth'; readonly weekday: number }
  | { readonly kind: 'nth'; readonly weekday: number; readonly nth: number };

export interface CronExpression {
  readonly kind: 'cron';
  readonly source: string;
  readonly hasSeconds: boolean;
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly dom: DomRule;
  readonly months: readonly number[];
  readonly dow: DowRule;
  /** null = every year from 1970 to 2199. */
  readonly years: readonly number[] | null;
  /** Every (hour, minute, second) the expression fires at, as seconds after local midnight, ascending. */
  readonly timesOfDay: readonly number[];
}

interface FieldSpec {
  readonly name: CronFieldName;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** Value of names[0]; months start at 1, weekdays at 1. */
  readonly nameBase?: number;
}

const SPECS: Record<CronFieldName, FieldSpec> = {
  seconds: { name: 'seconds', min: 0, max: 59 },
  minutes: { name: 'minutes', min: 0, max: 59 },
  hours: { name: 'hours', min: 0, max: 23 },
  'day-of-month': { name: 'day-of-month', min: 1, max: 31 },
  month: { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  'day-of-week': { name: 'day-of-week', min: 1, max: 7, names: DAY_NAMES, nameBase: 1 },
  year: { name: 'year', min: YEAR_MIN, max: YEAR_MAX },
};

function fail(field: CronFieldName | 'expression', reason: string): never {
  throw new ScheduleError(field, reason);
}

function parseValue(text: string, spec: FieldSpec): number {
  const upper = text.toUpperCase();
  if (spec.names) {
    const idx = spec.names.indexOf(upper);
    if (idx >= 0) return idx + (spec.nameBase ?? 0);
  }
  if (!/^\d{1,4}$/.test(text)) {
    const expected = spec.names ? `a number ${spec.min}-${spec.max} or a name ${spec.names[0] ?? ''}-${spec.names.at(-1) ?? ''}` : `a number ${spec.min}-${spec.max}`;
    fail(spec.name, `"${text}" is not a valid value; expected ${expected}`);
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) fail(spec.name, `value ${value} is out of range ${spec.min}-${spec.max}`);
  return value;
}

/** Parses `*`, `a`, `a-b`, and any of those with `/step`, comma-separated, into a sorted set of values. */
function parseList(text: string, spec: FieldSpec): number[] {
  if (text === '') fail(spec.name, 'field is empty');
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') fail(spec.name, `empty item in list "${text}"`);
    const [rangeText = '', stepText, extra] = item.split('/');
    if (extra !== undefined) fail(spec.name, `"${item}" has more than one '/'`);
    let lo: number;
    let hi: number;
    if (rangeText === '*') {
      lo = spec.min;
      hi = spec.max;
    } else if (rangeText.includes('-')) {
      const [a = '', b = '', more] = rangeText.split('-');
      if (more !== undefined || a === '' || b === '') fail(spec.name, `"${rangeText}" is not a valid range; expected a-b`);
      lo = parseValue(a, spec);
      hi = parseValue(b, spec);
      if (lo > hi) {
        fail(spec.name, `range "${rangeText}" runs backwards; wrapping ranges are not supported, list both parts instead (e.g. ${a}-${spec.max},${spec.min}-${b})`);
      }
    } else {
      if (rangeText === '') fail(spec.name, `"${item}" has no value before '/'`);
      lo = parseValue(rangeText, spec);
      hi = stepText === undefined ? lo : spec.max;
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,4}$/.test(stepText) || Number(stepText) === 0) fail(spec.name, `step "${stepText}" must be a whole number of at least 1`);
      step = Number(stepText);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return [...values].sort((x, y) => x - y);
}

function parseDom(text: string): DomRule {
  const spec = SPECS['day-of-month'];
  const upper = text.toUpperCase();
  if (upper === '?') return { kind: 'any' };
  if (upper === '*') return { kind: 'every' };
  if (upper === 'L') return { kind: 'last', minus: 0 };
  if (upper === 'LW') return { kind: 'lastWeekday' };
  if (upper.includes('L') || upper.includes('W')) {
    if (upper.includes(',')) fail(spec.name, `"${text}": L and W cannot be combined with other values in a list`);
    const lastMinus = /^L-(\d{1,2})$/.exec(upper);
    if (lastMinus) {
      const minus = Number(lastMinus[1]);
      if (minus > 30) fail(spec.name, `"${text}": L-n takes n from 0 to 30`);
      return { kind: 'last', minus };
    }
    const nearest = /^(\d{1,2})W$/.exec(upper);
    if (nearest) return { kind: 'nearestWeekday', day: parseValue(nearest[1] ?? '', spec) };
    fail(spec.name, `"${text}" is not valid; use L, L-n, LW or nW (W takes a single day, e.g. 15W)`);
  }
  if (upper.includes('#')) fail(spec.name, `"${text}": '#' is only allowed in day-of-week`);
  return { kind: 'days', days: parseList(text, spec) };
}

function parseDow(text: string): DowRule {
  const spec = SPECS['day-of-week'];
  const upper = text.toUpperCase();
  if (upper === '?') return { kind: 'any' };
  if (upper === '*') return { kind: 'every' };
  if (upper === 'L') return { kind: 'weekdays', weekdays: [7] };
  if (upper.includes('#')) {
    if (upper.includes(',')) fail(spec.name, `"${text}": only one '#' term is allowed, and not in a list`);
    const m = /^([A-Z]{3}|\d)#(\d)$/.exec(upper);
    if (!m) fail(spec.name, `"${text}" is not valid; n#k takes a weekday and k from 1 to 5, e.g. TUE#3 or 3#2`);
    const nth = Number(m[2]);
    if (nth < 1 || nth > 5) fail(spec.name, `"${text}": k in n#k must be from 1 to 5`);
    return { kind: 'nth', weekday: parseValue(m[1] ?? '', spec), nth };
  }
  if (upper.endsWith('L')) {
    if (upper.includes(',')) fail(spec.name, `"${text}": nL cannot be combined with other values in a list`);
    return { kind: 'lastOfMonth', weekday: parseValue(upper.slice(0, -1), spec) };
  }
  return { kind: 'weekdays', weekdays: parseList(text, spec) };
}

function isSpecificDom(rule: DomRule): boolean {
  return rule.kind !== 'any';
}

/** Parses the text inside `cron(...)`. Throws `ScheduleError` naming the field and the reason. */
export function parseCron(body: string, source = `cron(${body})`): CronExpression {
  const parts = body.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 6 && parts.length !== 7) {
    fail('expression', `expected 6 fields (minutes hours day-of-month month day-of-week year) or 7 with leading seconds, got ${parts.length}`);
  }
  const hasSeconds = parts.length === 7;
  const [secText, minText, hourText, domText, monText, dowText, yearText] = hasSeconds ? parts : ['0', ...parts];
  for (const [name, text] of [['seconds', secText], ['minutes', minText], ['hours', hourText], ['month', monText], ['year', yearText]] as const) {
    if (text?.includes('?')) fail(name, `'?' is only allowed in day-of-month and day-of-week`);
    if (text !== undefined && /[LW#]/i.test(text) && !(name === 'month' && /^[A-Z,\-/*]+$/i.test(text))) {
      fail(name, `"${text}": L, W and # are only allowed in day-of-month and day-of-week`);
    }
  }
  const seconds = parseList(secText ?? '', SPECS.seconds);
  const minutes = parseList(minText ?? '', SPECS.minutes);
  const hours = parseList(hourText ?? '', SPECS.hours);
  const dom = parseDom(domText ?? '');
  const months = parseList(monText ?? '', SPECS.month);
  const dow = parseDow(dowText ?? '');
  const years = yearText === '*' ? null : parseList(yearText ?? '', SPECS.year);

  const domSet = isSpecificDom(dom);
  const dowSet = dow.kind !== 'any';
  if (domSet && dowSet) {
    fail('day-of-week', `a value is set in both day-of-month and day-of-week; one of them must be '?'`);
  }
  if (!domSet && !dowSet) fail('day-of-week', `'?' is set in both day-of-month and day-of-week; only one of them may be '?'`);

  const timesOfDay: number[] = [];
  for (const h of hours) for (const m of minutes) for (const s of seconds) timesOfDay.push(h * 3600 + m * 60 + s);

  const expr: CronExpression = { kind: 'cron', source, hasSeconds, seconds, minutes, hours, dom, months, dow, years, timesOfDay };
  checkFrequency(expr);
  return expr;
}

function clock(secondOfDay: number): string {
  const h = Math.floor(secondOfDay / 3600);
  const m = Math.floor((secondOfDay % 3600) / 60);
  const s = secondOfDay % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}${s === 0 ? '' : `:${String(s).padStart(2, '0')}`}`;
}

/** "Cron expressions that lead to rates faster than five (5) minute aren't supported" (wall-clock reading). */
function checkFrequency(expr: CronExpression): void {
  const times = expr.timesOfDay;
  for (let i = 1; i < times.length; i++) {
    const a = times[i - 1] ?? 0;
    const b = times[i] ?? 0;
    if (b - a < MIN_INTERVAL_SECONDS) {
      const field = Math.floor(a / 60) === Math.floor(b / 60) ? 'seconds' : 'minutes';
      fail(field, `fires less than 5 minutes apart (${clock(a)} and ${clock(b)}); maintenance windows run at most every 5 minutes`);
    }
  }
  const first = times[0] ?? 0;
  const last = times.at(-1) ?? 0;
  if (times.length > 0 && first + 86_400 - last < MIN_INTERVAL_SECONDS && firesOnConsecutiveDays(expr)) {
    fail('minutes', `fires less than 5 minutes apart across midnight (${clock(last)} and ${clock(first)} the next day); maintenance windows run at most every 5 minutes`);
  }
}

function firesOnConsecutiveDays(expr: CronExpression): boolean {
  let previous = Number.NaN;
  for (const year of expr.years ?? yearRange()) {
    for (const month of expr.months) {
      for (const day of matchingDays(expr, year, month)) {
        const dayNumber = Date.UTC(year, month - 1, day) / 86_400_000;
        if (dayNumber - previous === 1) return true;
        previous = dayNumber;
      }
    }
  }
  return false;
}

function yearRange(): number[] {
  const out: number[] = [];
  for (let y = YEAR_MIN; y <= YEAR_MAX; y++) out.push(y);
  return out;
}

function nearestWeekday(year: number, month: number, day: number): number | null {
  const dim = daysInMonth(year, month);
  if (day > dim) return null;
  const dow = dayOfWeek(year, month, day);
  if (dow === 7) return day === 1 ? 3 : day - 1; // Saturday: Friday before, or Monday the 3rd
  if (dow === 1) return day === dim ? day - 2 : day + 1; // Sunday: Monday after, or Friday before at month end
  return day;
}

/** Days of `month` (1-12) in `year` on which the expression fires, ascending. */
export function matchingDays(expr: CronExpression, year: number, month: number): number[] {
  const dim = daysInMonth(year, month);
  const dom = expr.dom;
  switch (dom.kind) {
    case 'every':
      return range(1, dim);
    case 'days':
      return dom.days.filter((d) => d <= dim);
    case 'last':
      return dim - dom.minus >= 1 ? [dim - dom.minus] : [];
    case 'lastWeekday': {
      const d = nearestWeekday(year, month, dim);
      return d === null ? [] : [d];
    }
    case 'nearestWeekday': {
      const d = nearestWeekday(year, month, dom.day);
      return d === null ? [] : [d];
    }
    case 'any':
      break;
  }
  const firstDow = dayOfWeek(year, month, 1);
  const dow = expr.dow;
  switch (dow.kind) {
    case 'every':
      return range(1, dim);
    case 'weekdays':
      return range(1, dim).filter((d) => dow.weekdays.includes(((firstDow - 1 + d - 1) % 7) + 1));
    case 'lastOfMonth': {
      const lastDow = ((firstDow - 1 + dim - 1) % 7) + 1;
      return [dim - ((lastDow - dow.weekday + 7) % 7)];
    }
    case 'nth': {
      const d = 1 + ((dow.weekday - firstDow + 7) % 7) + (dow.nth - 1) * 7;
      return d <= dim ? [d] : [];
    }
    case 'any':
      return [];
  }
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}

export { MONTH_NAMES, DAY_NAMES };
