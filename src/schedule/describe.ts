import { type CronExpression, DAY_NAMES, MONTH_NAMES } from './cron.js';
import type { ScheduleExpression } from './expression.js';

const WEEKDAY_WORDS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
const MONTH_WORDS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'] as const;
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth'] as const;

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1) ?? ''}`;
}

/** Collapses runs of consecutive numbers: [1,2,3,5] -> "1-3, 5". */
function compact(values: readonly number[], label: (v: number) => string = String): string {
  const parts: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] ?? 0) === (values[j] ?? 0) + 1) j++;
    const a = values[i] ?? 0;
    const b = values[j] ?? 0;
    parts.push(j - i >= 2 ? `${label(a)} through ${label(b)}` : j === i ? label(a) : `${label(a)}, ${label(b)}`);
    i = j + 1;
  }
  return listWords(parts);
}

function weekday(n: number): string {
  return WEEKDAY_WORDS[n - 1] ?? DAY_NAMES[n - 1] ?? String(n);
}

function month(n: number): string {
  return MONTH_WORDS[n - 1] ?? MONTH_NAMES[n - 1] ?? String(n);
}

function describeTimes(expr: CronExpression): string {
  const times = expr.timesOfDay;
  const clock = (s: number): string => {
    const base = `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}`;
    return expr.hasSeconds && s % 60 !== 0 ? `${base}:${pad(s % 60)}` : base;
  };
  if (times.length <= 6) return `at ${listWords(times.map(clock))}`;
  const minuteText = expr.minutes.length === 60 ? 'every minute' : `at minute${expr.minutes.length > 1 ? 's' : ''} ${compact(expr.minutes)}`;
  const hourText = expr.hours.length === 24 ? 'of every hour' : `past hour${expr.hours.length > 1 ? 's' : ''} ${compact(expr.hours, pad)}`;
  const secondText = expr.seconds.length === 1 && expr.seconds[0] === 0 ? '' : `, second${expr.seconds.length > 1 ? 's' : ''} ${compact(expr.seconds)}`;
  return `${minuteText} ${hourText}${secondText} (${times.length} times a day)`;
}

function describeDays(expr: CronExpression): string {
  const dom = expr.dom;
  switch (dom.kind) {
    case 'every':
      return 'every day';
    case 'days':
      return `on day${dom.days.length > 1 ? 's' : ''} ${compact(dom.days)} of the month`;
    case 'last':
      return dom.minus === 0 ? 'on the last day of the month' : `${dom.minus} day${dom.minus > 1 ? 's' : ''} before the last day of the month`;
    case 'lastWeekday':
      return 'on the last weekday (Monday-Friday) of the month';
    case 'nearestWeekday':
      return `on the weekday (Monday-Friday) nearest day ${dom.day} of the month`;
    case 'any':
      break;
  }
  const dow = expr.dow;
  switch (dow.kind) {
    case 'every':
    case 'any':
      return 'every day';
    case 'weekdays':
      return dow.weekdays.length === 7 ? 'every day' : `on ${compact(dow.weekdays, weekday)}`;
    case 'lastOfMonth':
      return `on the last ${weekday(dow.weekday)} of the month`;
    case 'nth':
      return `on the ${ORDINALS[dow.nth - 1] ?? String(dow.nth)} ${weekday(dow.weekday)} of the month`;
  }
}

/** A plain-English reading of an expression, e.g. "At 23:30 on the third Tuesday of the month, every month, every year". */
export function describeExpression(expr: ScheduleExpression): string {
  switch (expr.kind) {
    case 'rate':
      return `Every ${expr.value === 1 ? expr.unit : `${expr.value} ${expr.unit}s`} (elapsed time), from the window's start date or creation time`;
    case 'at': {
      const d = new Date(expr.localMs);
      return `Once, at ${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} in the window's time zone`;
    }
    case 'cron': {
      const times = describeTimes(expr);
      const days = describeDays(expr);
      const months = expr.months.length === 12 ? 'every month' : `in ${compact(expr.months, month)}`;
      const years = expr.years === null ? 'every year' : `in ${compact(expr.years)}`;
      return `${times.charAt(0).toUpperCase()}${times.slice(1)}, ${days}, ${months}, ${years}`;
    }
  }
}
