export { parseCron, matchingDays, type CronExpression, type DomRule, type DowRule, CRON_FIELDS, YEAR_MIN, YEAR_MAX } from './cron.js';
export { parseExpression, type ScheduleExpression, type RateExpression, type AtExpression } from './expression.js';
export { Schedule, type WindowOptions, type Occurrence, type Window } from './schedule.js';
export { unionPeriods, activeUnionAt, unionBetween, type Period } from './periods.js';
export { describeExpression } from './describe.js';
export { TimeZone, type LocalDateTime, dayOfWeek, daysInMonth, localMs } from './tz.js';
