import { formatInstant } from '../domain/time.js';
import type { Window } from '../schedule/schedule.js';
import type { GroupConfig, WindowDecl, WindowScope } from './config.js';
import { defaultOf, type KeyValue } from './keys.js';
import { Settings } from './settings.js';

/** Layers, lowest first; a higher layer's value wins. */
export const LAYERS = ['default', 'file', 'store', 'schedule', 'window', 'override'] as const;
export type LayerName = (typeof LAYERS)[number];

/** A value set at run time (API/CLI) with a TTL and a reason. */
export interface Override {
  readonly group: string;
  readonly key: string;
  readonly value: KeyValue;
  readonly expiresAt: number;
  readonly reason: string;
}

export interface LayerEntry {
  readonly key: string;
  readonly value: KeyValue;
  readonly layer: LayerName;
  /** What set it: `fleetwarden.yaml`, `schedule business-hours`, `window FW-web`, `override: <reason>`. */
  readonly source: string;
  readonly expiresAt?: number;
}

/** A fleet of a group: the main fleet or a named subfleet. */
export type FleetRef = { readonly kind: 'main' } | { readonly kind: 'subfleet'; readonly name: string };

export function fleetLabel(fleet: FleetRef): string {
  return fleet.kind === 'main' ? 'main fleet' : `subfleet ${fleet.name}`;
}

export interface ActiveWindow {
  readonly decl: WindowDecl;
  /** The occurrence; the window is active from start − startAhead to end. */
  readonly window: Window;
}

export function covers(scope: WindowScope, fleet: FleetRef): boolean {
  switch (scope.kind) {
    case 'group':
      return true;
    case 'main':
      return fleet.kind === 'main';
    case 'subfleets':
      return fleet.kind === 'subfleet';
    case 'subfleet':
      return fleet.kind === 'subfleet' && fleet.name === scope.name;
  }
}

/** Maintenance-window facts at one instant, per fleet; computed once per tick, passed to the planner as data. */
export class WindowState {
  readonly active: readonly ActiveWindow[];
  /** Windows whose schedule could not be evaluated: the group fails closed (no stop, no drain). */
  readonly broken: readonly WindowDecl[];

  constructor(active: readonly ActiveWindow[], broken: readonly WindowDecl[]) {
    this.active = active;
    this.broken = broken;
  }

  forFleet(fleet: FleetRef): ActiveWindow[] {
    return this.active.filter((a) => covers(a.decl.scope, fleet));
  }

  inWindow(fleet: FleetRef): boolean {
    return this.forFleet(fleet).length > 0;
  }

  /** Why nothing may be stopped or drained in `fleet` now, or null when a stop is allowed. */
  stopBlocker(fleet: FleetRef): string | null {
    const broken = this.broken[0];
    if (broken !== undefined) return `stop blocked: window ${broken.name} cannot be evaluated (${broken.error ?? 'invalid'}); failing closed`;
    const windows = this.forFleet(fleet);
    if (windows.length === 0) return null;
    const until = Math.max(...windows.map((w) => w.window.end));
    return `stop blocked: window ${windows.map((w) => w.decl.name).join(', ')} active until ${formatInstant(until)}`;
  }
}

/**
 * A window's own start-ahead: its `maintenance.startAhead` override (file `overrides`, or the SSM tag — seed 000's
 * `ssm.feature.maintenance_window.start_ahead` with the clonesquad preset), else the group's.
 */
export function windowStartAhead(decl: WindowDecl, groupStartAheadMs: number): number {
  const own = decl.overrides['maintenance.startAhead'];
  return typeof own === 'number' ? own : groupStartAheadMs;
}

/** Evaluates every window of the group at `now` (active from start − its start-ahead to end). */
export function windowStateAt(windows: readonly WindowDecl[], now: number, startAheadMs: number): WindowState {
  const active: ActiveWindow[] = [];
  const broken: WindowDecl[] = [];
  for (const decl of windows) {
    if (decl.schedule === null) {
      broken.push(decl);
      continue;
    }
    try {
      const window = decl.schedule.windowAt(now, windowStartAhead(decl, startAheadMs));
      if (window) active.push({ decl, window });
    } catch (err) {
      broken.push({ ...decl, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return new WindowState(active, broken);
}

export interface ResolveInput {
  readonly group: GroupConfig;
  readonly now: number;
  /** Subfleet names known for the group (declared in the file or seen on instances). */
  readonly subfleets: readonly string[];
  /** Windows from every source (file-declared ones are in `group.windows`; SSM ones are added here). */
  readonly extraWindows?: readonly WindowDecl[];
  readonly storeValues?: Readonly<Record<string, KeyValue>>;
  readonly overrides?: readonly Override[];
}

export interface Resolved {
  readonly settings: Settings;
  readonly windows: WindowState;
  /** Every layer's value for each key that any layer sets, lowest layer first (the last one wins). */
  readonly layers: ReadonlyMap<string, readonly LayerEntry[]>;
  readonly warnings: readonly string[];
  /**
   * The group's start-ahead that window activity was judged with: from below the window layer, or a run-time
   * override. Not `settings.startAheadMs`, which an active window's own overrides may change: anything asking
   * "which windows are active, or when does the next one start" must use this one to agree with `windows`.
   */
  readonly startAheadMs: number;
}

const FULL: KeyValue = { kind: 'percent', value: 100 };

/**
 * The values an active window sets: its defaults (unless disabled) then its own overrides (tags). A window starts
 * everything it covers (seed 000): a sized fleet at 100%, a tiered workload (whose instances are its main fleet)
 * by its start sequence, tier by tier — and nothing in it stops until the window ends (WindowState.stopBlocker).
 */
function windowValues(a: ActiveWindow, subfleets: readonly string[], forceSubfleetsRunning: boolean, workload: boolean): Record<string, KeyValue> {
  const out: Record<string, KeyValue> = {};
  if (!a.decl.disableDefaultConfiguration) {
    if (covers(a.decl.scope, { kind: 'main' })) {
      if (workload) out['workload.state'] = 'running';
      else {
        out['fleets.main.min'] = FULL;
        out['fleets.main.desired'] = FULL;
      }
    }
    for (const name of subfleets) {
      if (!covers(a.decl.scope, { kind: 'subfleet', name })) continue;
      out[`fleets.subfleets.${name}.min`] = FULL;
      out[`fleets.subfleets.${name}.desired`] = FULL;
    }
  }
  if (forceSubfleetsRunning) {
    for (const name of subfleets) if (covers(a.decl.scope, { kind: 'subfleet', name })) out[`fleets.subfleets.${name}.state`] = 'running';
  }
  return { ...out, ...a.decl.overrides };
}

/**
 * Effective configuration = defaults < file < stored values < active schedules < active windows < run-time
 * overrides. Pure: `now` is an input; expired overrides simply do not apply.
 */
export function resolve(input: ResolveInput): Resolved {
  const { group, now } = input;
  const layers = new Map<string, LayerEntry[]>();
  const add = (key: string, value: KeyValue, layer: LayerName, source: string, expiresAt?: number): void => {
    const list = layers.get(key) ?? [];
    if (list.length === 0) {
      const d = defaultOf(key);
      if (d !== undefined) list.push({ key, value: d, layer: 'default', source: 'built-in default' });
    }
    list.push(expiresAt === undefined ? { key, value, layer, source } : { key, value, layer, source, expiresAt });
    layers.set(key, list);
  };
  const warnings: string[] = [];

  for (const [k, v] of Object.entries(group.fileValues)) add(k, v, 'file', 'configuration file');
  for (const [k, v] of Object.entries(input.storeValues ?? {})) add(k, v, 'store', 'stored value');
  for (const s of group.schedules) {
    const w = s.schedule.windowAt(now);
    if (w) for (const [k, v] of Object.entries(s.values)) add(k, v, 'schedule', `schedule ${s.name}`, w.end);
  }
  const liveOverrides = (input.overrides ?? []).filter((o) => o.group === group.name && o.expiresAt > now);

  // Window activity depends on startAhead: the group's is read below the window layer; a window may carry its own.
  const below = new Settings(new Map([...layers].map(([k, list]) => [k, list.at(-1)?.value ?? null])));
  const startAheadOverride = liveOverrides.filter((o) => o.key === 'maintenance.startAhead').at(-1);
  const startAheadMs = typeof startAheadOverride?.value === 'number' ? startAheadOverride.value : below.startAheadMs;
  const windows = windowStateAt([...group.windows, ...(input.extraWindows ?? [])], now, startAheadMs);
  for (const b of windows.broken) warnings.push(`window ${b.name} cannot be evaluated: ${b.error ?? 'invalid schedule'}; no stop or drain in group ${group.name} until it is fixed`);
  // Windows are listed most specific first (SSM naming order, then file order); the most specific one wins.
  for (const a of [...windows.active].reverse()) {
    for (const [k, v] of Object.entries(windowValues(a, input.subfleets, below.forceSubfleetsRunning, group.workload !== null))) add(k, v, 'window', `window ${a.decl.name}`, a.window.end);
  }
  for (const o of liveOverrides) add(o.key, o.value, 'override', `override: ${o.reason}`, o.expiresAt);

  const settings = new Settings(new Map([...layers].map(([k, list]) => [k, list.at(-1)?.value ?? null])));
  return { settings, windows, layers, warnings, startAheadMs };
}
