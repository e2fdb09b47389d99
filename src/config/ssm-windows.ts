import { ScheduleError, ValidationError } from '../domain/errors.js';
import { formatInstant, parseInstant } from '../domain/time.js';
import { Schedule } from '../schedule/schedule.js';
import type { Naming, WindowDecl, WindowScope } from './config.js';
import { type KeyValue, parseSetting } from './keys.js';
import type { Problem } from '../domain/problems.js';

/** An SSM maintenance window as the window source reports it (provider-neutral; no SDK types). */
export interface SsmWindowInfo {
  readonly id: string;
  readonly name: string;
  readonly schedule: string;
  readonly timezone?: string;
  readonly offsetDays?: number;
  readonly durationHours: number;
  readonly cutoffHours: number;
  readonly startDate?: string;
  readonly endDate?: string;
  /**
   * When the window was created (ISO-8601): a rate() schedule is anchored on it
   * (docs/schedule.md#periods-start-ahead-and-cutoff).
   */
  readonly createdAt?: string;
  /** Why the creation time of a rate() window could not be read, when it could not. */
  readonly createdAtError?: string;
  readonly enabled: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly nextExecutionTime?: string;
}

/** Which group and fleets a window name addresses, by the naming convention of seed 000, or null. */
export function classifyWindowName(name: string, naming: Naming): { group: string | null; scope: WindowScope } | null {
  const p = `${naming.windowPrefix}-`;
  if (!name.startsWith(p)) return null;
  if (name === `${p}GlobalDefaultMaintenanceWindow`) return { group: null, scope: { kind: 'group' } };
  const rest = name.slice(p.length);
  if (rest.endsWith('-Mainfleet')) return { group: rest.slice(0, -'-Mainfleet'.length), scope: { kind: 'main' } };
  const sub = /^(.+)-Subfleet\.(.+)$/.exec(rest);
  if (sub) {
    const [, group = '', subfleet = ''] = sub;
    return { group, scope: subfleet === '__all__' ? { kind: 'subfleets' } : { kind: 'subfleet', name: subfleet } };
  }
  return rest === '' ? null : { group: rest, scope: { kind: 'group' } };
}

/** Most specific first: Mainfleet / Subfleet.<name>, Subfleet.__all__, the group, the global default. */
function specificity(c: { group: string | null; scope: WindowScope }): number {
  if (c.group === null) return 4;
  switch (c.scope.kind) {
    case 'main':
    case 'subfleet':
      return 0;
    case 'subfleets':
      return 1;
    case 'group':
      return 2;
  }
}

export interface DiscoveredWindows {
  readonly windows: readonly WindowDecl[];
  /** What could not be used, each reported with the window, the field and the reason. */
  readonly problems: readonly Problem[];
  /** The problems as sentences (a broken schedule is said by the window state instead: see resolve.ts). */
  readonly warnings: readonly string[];
}

/**
 * The SSM windows that apply to `group`, with their tag overrides, most specific first. A window counts only when
 * tagged `<prefix>:group-name=<group>` (the global default excepted); disabled ones are ignored, untagged ones are
 * ignored with a warning. A schedule that cannot be parsed yields a window that fails closed.
 */
export function ssmWindowsForGroup(infos: readonly SsmWindowInfo[], group: string, naming: Naming, now: number): DiscoveredWindows {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const found: { decl: WindowDecl; rank: number }[] = [];
  const groupTag = `${naming.tagPrefix}:group-name`;
  const configTag = `${naming.tagPrefix}:config:`;
  for (const info of infos) {
    const c = classifyWindowName(info.name, naming);
    if (c === null || (c.group !== null && c.group !== group)) continue;
    if (!info.enabled) continue;
    const report = (field: string, value: string, reason: string, sentence: string): void => {
      problems.push({ source: 'window', subject: info.name, field, value, reason });
      warnings.push(sentence);
    };
    if (c.group !== null && info.tags[groupTag] !== group) {
      report(`tag ${groupTag}`, info.tags[groupTag] ?? '', `window ignored: it must be tagged ${groupTag}=${group}`, `window ${info.name} is ignored: it is not tagged ${groupTag}=${group}`);
      continue;
    }
    const overrides: Record<string, KeyValue> = {};
    let disableDefaultConfiguration = false;
    for (const [tag, value] of Object.entries(info.tags)) {
      if (!tag.startsWith(configTag)) continue;
      const key = tag.slice(configTag.length);
      if (key === 'disable-default-configuration') {
        disableDefaultConfiguration = value.trim().toLowerCase() === 'true';
        continue;
      }
      try {
        for (const [canonical, parsed] of parseSetting(key, value, tag, naming.preset)) overrides[canonical] = parsed;
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        report(`tag ${tag}`, value, `tag ignored: ${err.reason}`, `window ${info.name}: tag ignored: ${err.message}`);
      }
    }
    let schedule: Schedule | null = null;
    let error: string | undefined;
    try {
      schedule = Schedule.parse(info.schedule, {
        timezone: info.timezone,
        offsetDays: info.offsetDays,
        durationHours: info.durationHours,
        cutoffHours: info.cutoffHours,
        startDate: info.startDate === undefined ? undefined : parseInstant(info.startDate, 'StartDate'),
        endDate: info.endDate === undefined ? undefined : parseInstant(info.endDate, 'EndDate'),
        // SSM anchors a rate() window on max(StartDate, creation time); with no StartDate, on its creation.
        createdAt: info.createdAt === undefined ? undefined : parseInstant(info.createdAt, 'CreatedDate'),
      });
    } catch (err) {
      if (!(err instanceof ScheduleError || err instanceof ValidationError)) throw err;
      error = info.createdAtError === undefined ? err.message : `${err.message} (its CreatedDate could not be read: ${info.createdAtError})`;
      problems.push({ source: 'window', subject: info.name, field: 'Schedule', value: info.schedule, reason: `cannot be evaluated (${error}); no stop or drain in group ${group} until it is fixed` });
    }
    let nextExecutionTime: number | undefined;
    if (info.nextExecutionTime !== undefined) {
      try {
        nextExecutionTime = parseInstant(info.nextExecutionTime, 'NextExecutionTime');
      } catch {
        report('NextExecutionTime', info.nextExecutionTime, 'not a date; ignored', `window ${info.name}: NextExecutionTime ${JSON.stringify(info.nextExecutionTime)} is not a date; ignored`);
      }
    }
    if (schedule && nextExecutionTime !== undefined) {
      // NextExecutionTime has minute precision and jumps ahead once a window starts; it is only a cross-check.
      const ours = schedule.next(now, 1)[0]?.start;
      if (ours === undefined || Math.floor(ours / 60_000) !== Math.floor(nextExecutionTime / 60_000)) {
        const sentence = `SSM says the next execution is ${formatInstant(nextExecutionTime)}, the schedule says ${ours === undefined ? 'never' : formatInstant(ours)}; using the schedule`;
        report('NextExecutionTime', info.nextExecutionTime ?? '', sentence, `window ${info.name}: ${sentence}`);
      }
    }
    const decl: WindowDecl = {
      name: info.name,
      source: 'ssm',
      scope: c.scope,
      schedule,
      overrides,
      disableDefaultConfiguration,
      ...(error === undefined ? {} : { error }),
      ...(nextExecutionTime === undefined ? {} : { nextExecutionTime }),
    };
    found.push({ decl, rank: specificity(c) });
  }
  found.sort((a, b) => a.rank - b.rank);
  return { windows: found.map((f) => f.decl), problems, warnings };
}
