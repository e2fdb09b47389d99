import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FleetConfig } from '../config/config.js';
import { ValidationError } from '../domain/errors.js';
import { type Clock, ScaledClock, systemClock, VirtualClock } from '../domain/time.js';
import type { ObjectStore, Store, WindowSource } from '../ports/index.js';
import type { SsmWindowInfo } from '../config/ssm-windows.js';
import { DirectoryObjectStore } from '../store/objects/objects.js';
import { type ClockAnchor, Simulator } from '../providers/simulator/simulator.js';
import type { SimulatorSeed, SimulatorSpec } from '../config/simulator-spec.js';
import { formatInstant } from '../domain/time.js';
import type { FleetProvider, LoadBalancer } from '../ports/index.js';
import { type ControllerEvent, Reconciler, type ReconcilerDeps } from '../reconciler/reconciler.js';
import { readOnlyStore } from '../reconciler/preview.js';
import type { RetryPolicy } from '../reconciler/executor.js';
import { SqliteStore, StoreError } from '../store/sqlite/store.js';
import { AgentCommandRunner } from '../providers/agent/runner.js';
import type { ControllerMetrics } from './metrics.js';
import { EventPublisher } from './events.js';
import type { EventSink } from '../ports/index.js';
import { WebhookSink } from '../providers/webhook/webhook.js';

/**
 * The composition root: the only place that picks a provider and a store. Everything else receives ports.
 */
export interface Controller {
  readonly reconciler: Reconciler;
  readonly store: Store;
  readonly clock: Clock;
  readonly simulator: Simulator | null;
  /** Where SSM windows are discovered (null unless ssm.discovery is on). */
  readonly windowSource: WindowSource | null;
  /** Events out (`run` only): null when the configuration names no sink. */
  readonly events?: EventPublisher | null;
  /** Where full task output is kept (the API serves it to the dashboard); null: nowhere. */
  readonly objects: ObjectStore | null;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly stateDir: string;
  /** Simulated seconds per real second (simulator only); default from the config [1]. */
  readonly speed?: number | undefined;
  /** A clock to use instead (tests and `simulate`); the simulator then keeps no world file unless `worldFile`. */
  readonly clock?: Clock;
  readonly worldFile?: string | null;
  readonly storePath?: string;
  readonly owner?: string | undefined;
  readonly onEvent?: (e: ControllerEvent) => void;
  readonly retry?: RetryPolicy;
  /** With a virtual clock, back-off sleeps move that clock instead of waiting. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Where full task outputs go (default: <state dir>/outputs, or S3 with provider aws and aws.outputBucket). */
  readonly objects?: ObjectStore | null;
  /** Where tick and provider-call durations go (this controller's registry); absent: nothing is timed. */
  readonly metrics?: ControllerMetrics;
  /** Told when an event could not be published (events out); the tick goes on regardless. */
  readonly onPublishFailure?: (sink: string, message: string) => void;
  /** Back-off sleeps of the event publisher (tests) [real timers]. */
  readonly publisherSleep?: (ms: number) => Promise<void>;
  /** false: plan every group on every tick, even at rest (src/reconciler/rest.ts) [true]. */
  readonly skipAtRest?: boolean;
  /** false: the SQLite store writes no history (`simulate`: an in-memory store nothing reads it from) [true]. */
  readonly keepHistory?: boolean;
  /** true: the store and bucket expire old entries themselves (the Lambda deployment): no prune scans [false]. */
  readonly expiresItself?: boolean;
  /**
   * A world to start the simulator from (a snapshot of a real fleet) instead of the configuration's simulator
   * section, which is then not needed; needs `clock` (the world starts at its instant).
   */
  readonly seed?: SimulatorSeed;
}

export function simulatorSpec(config: FleetConfig): SimulatorSpec {
  if (config.simulator === undefined) {
    throw new ValidationError('simulator', 'provider is simulator (the default) but the configuration has no simulator section; add one (see examples/demo.yaml), or set provider: aws');
  }
  return config.simulator;
}

/** The `service` label of each port's calls in fleetwarden_provider_call_seconds. */
interface PortServices {
  readonly provider: string;
  readonly lb: string;
  readonly runner: string;
  readonly windowSource: string;
}
const AWS_SERVICES: PortServices = { provider: 'ec2', lb: 'elasticloadbalancing', runner: 'ssm', windowSource: 'ssm' };
const SIMULATOR_SERVICES: PortServices = { provider: 'simulator', lb: 'simulator', runner: 'simulator', windowSource: 'simulator' };

/** Wires a reconciler to its ports, store and clock: the one place both providers share. */
function assemble(config: FleetConfig, opts: OpenOptions, given: Pick<ReconcilerDeps, 'provider' | 'lb' | 'runner' | 'windowSource'>, store: Store, clock: Clock, simulator: Simulator | null, services: PortServices): Controller {
  // Agent delivery replaces the provider's command channel (SSM Run Command, or the simulator's scripts).
  const agent = config.controller.eventDelivery === 'agent';
  const objects = opts.objects !== undefined ? opts.objects : opts.stateDir === '' ? null : new DirectoryObjectStore(join(opts.stateDir, 'outputs'));
  const ports = agent ? { ...given, runner: new AgentCommandRunner(store, clock) } : given;
  const m = opts.metrics;
  const reconciler = new Reconciler({
    config,
    ...(m === undefined
      ? ports
      : {
          provider: m.instrument(ports.provider, services.provider),
          lb: m.instrument(ports.lb, services.lb),
          runner: m.instrument(ports.runner, agent ? 'agent' : services.runner),
          windowSource: ports.windowSource === null ? null : m.instrument(ports.windowSource, services.windowSource),
          timeGroupTick: <T>(group: string, run: () => Promise<T>) => m.timeGroupTick(group, run),
        }),
    store,
    clock,
    owner: opts.owner ?? config.controller.owner ?? `${hostname()}:${process.pid}`,
    sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    ...(opts.retry === undefined ? {} : { retry: opts.retry }),
    ...(opts.onEvent === undefined ? {} : { onEvent: opts.onEvent }),
    ...(opts.skipAtRest === undefined ? {} : { skipAtRest: opts.skipAtRest }),
    ...(opts.expiresItself === undefined ? {} : { expiresItself: opts.expiresItself }),
    objects,
  });
  return {
    reconciler,
    objects,
    store,
    clock,
    simulator,
    windowSource: config.ssmDiscovery ? ports.windowSource : null,
    close: async () => {
      await reconciler.release();
      await store.close();
    },
  };
}

/** The SQLite file or DynamoDB table of a configuration, in words. */
export function storePathOf(config: FleetConfig, stateDir: string): string {
  return config.store.kind === 'dynamodb' ? `DynamoDB table ${config.store.table ?? ''}` : (config.storePath ?? join(stateDir, 'state.db'));
}

/** Whether the configured store exists (DynamoDB is assumed to: the table is made by the deployment). */
export function storeExists(config: FleetConfig, stateDir: string): boolean {
  return config.store.kind === 'dynamodb' || existsSync(storePathOf(config, stateDir));
}

/**
 * Opens the configured store for an operator command; it must exist (reading an empty one would only mislead).
 * `readOnly`: for commands that promise to change nothing (`snapshot`): SQLite opened read-only and not migrated,
 * every write refused (readOnlyStore).
 */
export async function openStore(config: FleetConfig, stateDir: string, options: { readonly readOnly?: boolean } = {}): Promise<Store> {
  if (config.store.kind === 'dynamodb') {
    const store = (await import('./aws.js')).dynamoStore(config);
    return options.readOnly === true ? readOnlyStore(store) : store;
  }
  if (!storeExists(config, stateDir)) throw new ValidationError('--state-dir', `no store at ${storePathOf(config, stateDir)}: run 'fleetwarden run' first (or give --state-dir)`);
  return options.readOnly === true ? readOnlyStore(readOnlySqlite(storePathOf(config, stateDir))) : new SqliteStore(storePathOf(config, stateDir));
}

/**
 * The clock of the configured world: the wall clock on AWS; on the simulator, the simulated instant the world file
 * is at (its start when there is no world yet) — so TTLs and windows are judged as the controller judges them.
 */
export function worldClock(config: FleetConfig, stateDir: string): Clock {
  if (config.provider !== 'simulator' || config.simulator === undefined) return systemClock;
  const spec = config.simulator;
  const saved = Simulator.savedAnchor(spec.world ?? join(stateDir, 'world.json'));
  if (saved === null) {
    const start = Simulator.startTime(spec);
    return { now: () => start };
  }
  return new ScaledClock(saved.sim, saved.speed, systemClock, saved.real);
}

/** The SSM windows the configured provider discovers now (none unless ssm.discovery is on). */
export function ssmWindowsOf(config: FleetConfig, clock: Clock): () => Promise<SsmWindowInfo[]> {
  if (!config.ssmDiscovery) return () => Promise.resolve([]);
  if (config.provider === 'simulator') return () => new Simulator(simulatorSpec(config), config.naming, clock, null).list();
  return async () => (await import('./aws.js')).awsPorts(config, clock).windowSource.list();
}

/** The read side of the configured provider, for `snapshot`: nothing it returns is asked to change anything. */
export interface FleetReader {
  readonly provider: Pick<FleetProvider, 'listInstances'>;
  readonly lb: Pick<LoadBalancer, 'targetHealth' | 'deregistrationDelays'>;
  /** Null unless ssm.discovery is on. */
  readonly windowSource: WindowSource | null;
  readonly clock: Clock;
}

/**
 * The configured provider, for reading only: AWS (EC2, ELBv2, SSM), or the simulated world `run` keeps in its world
 * file — read at its current simulated instant and never written back.
 */
export async function openFleetReader(config: FleetConfig, stateDir: string): Promise<FleetReader> {
  if (config.provider === 'simulator') {
    const spec = simulatorSpec(config);
    const clock = worldClock(config, stateDir);
    const sim = new Simulator(spec, config.naming, clock, spec.world ?? join(stateDir, 'world.json'), undefined, { readOnly: true });
    return { provider: sim, lb: sim, windowSource: config.ssmDiscovery ? sim : null, clock };
  }
  const ports = (await import('./aws.js')).awsPorts(config, systemClock);
  return { provider: ports.provider, lb: ports.lb, windowSource: config.ssmDiscovery ? ports.windowSource : null, clock: systemClock };
}

function sqliteStore(config: FleetConfig, opts: OpenOptions): Store {
  return new SqliteStore(opts.storePath ?? config.storePath ?? join(opts.stateDir, 'state.db'), { history: opts.keepHistory !== false });
}

/**
 * The sinks `events` configures. The webhook's secret is read from its environment variable here, once; a named
 * variable that is unset is a configuration mistake (events would go out unsigned), refused before anything runs.
 */
export async function eventSinks(config: FleetConfig, clock: Clock, env: NodeJS.ProcessEnv = process.env): Promise<EventSink[]> {
  const sinks: EventSink[] = [];
  const w = config.events.webhook;
  if (w !== null) {
    const secret = w.secretEnv === undefined ? undefined : env[w.secretEnv];
    if (w.secretEnv !== undefined && (secret === undefined || secret === '')) throw new ValidationError('events.webhook.secretEnv', `environment variable ${w.secretEnv} is not set (or empty): events would go out unsigned`);
    sinks.push(new WebhookSink({ url: w.url, secret, timeoutMs: w.timeoutMs, now: () => clock.now() }));
  }
  if (config.events.eventBridge !== null) sinks.push((await import('./aws.js')).eventBridgeSink(config));
  return sinks;
}

/** The controller `run` uses: the configured provider (simulator or AWS) and store (SQLite or DynamoDB). */
export async function openController(config: FleetConfig, given: OpenOptions): Promise<Controller> {
  // Events out: published from here, not from the reconciler, which only reports; a sink never holds up a tick.
  const sinks = await eventSinks(config, given.clock ?? systemClock);
  if (sinks.length === 0) return openPlainController(config, given);
  const events = new EventPublisher(sinks, { ...(given.onPublishFailure === undefined ? {} : { onFailure: given.onPublishFailure }), ...(given.publisherSleep === undefined ? {} : { sleep: given.publisherSleep }) });
  given.metrics?.watchEvents(() => events.stats());
  const onEvent = (e: ControllerEvent): void => {
    given.onEvent?.(e);
    events.offer(e);
  };
  const ctl = await openPlainController(config, { ...given, onEvent });
  return {
    ...ctl,
    events,
    close: async () => {
      await ctl.close();
      await events.close();
    },
  };
}

async function openPlainController(config: FleetConfig, opts: OpenOptions): Promise<Controller> {
  const store = config.store.kind === 'dynamodb' ? (await import('./aws.js')).dynamoStore(config) : sqliteStore(config, opts);
  if (config.provider === 'simulator') return openSimulatedController(config, opts, store);
  const clock = opts.clock ?? systemClock;
  const { objects, ...ports } = (await import('./aws.js')).awsPorts(config, clock);
  return assemble(config, opts.objects === undefined && objects !== null ? { ...opts, objects } : opts, ports, store, clock, null, AWS_SERVICES);
}

/** The controller on the simulated cloud (synchronous to build: `simulate`, tests and benchmarks use it). */
export function openSimulatedController(config: FleetConfig, opts: OpenOptions, givenStore?: Store): Controller {
  if (opts.seed !== undefined) {
    if (opts.clock === undefined) throw new Error('a seeded simulator needs a clock');
    // Only the seed: the configuration's invented simulator world (groups, faults, scripts) has no part in it.
    const seeded = new Simulator({ groups: {}, start: formatInstant(opts.clock.now()) }, config.naming, opts.clock, null, undefined, { seed: opts.seed });
    const ports = { provider: seeded, lb: seeded, runner: seeded, windowSource: seeded };
    return assemble(config, opts, ports, givenStore ?? sqliteStore(config, opts), opts.clock, seeded, SIMULATOR_SERVICES);
  }
  const spec = simulatorSpec(config);
  const worldFile = opts.worldFile !== undefined ? opts.worldFile : (spec.world ?? join(opts.stateDir, 'world.json'));
  // The simulated clock is anchored in the world file, so every process using the world agrees on the time and
  // the world keeps moving while no controller runs. A new speed re-anchors at the current simulated instant.
  let anchor: ClockAnchor | undefined;
  if (opts.clock === undefined) {
    const real = systemClock.now();
    const saved = worldFile === null ? null : Simulator.savedAnchor(worldFile);
    const speed = opts.speed ?? saved?.speed ?? spec.speed ?? 1;
    anchor = saved === null ? { real, sim: Simulator.startTime(spec), speed } : saved.speed === speed ? saved : { real, sim: new ScaledClock(saved.sim, saved.speed, systemClock, saved.real).now(), speed };
  }
  const clock = opts.clock ?? new ScaledClock(anchor?.sim ?? 0, anchor?.speed ?? 1, systemClock, anchor?.real);
  const simulator = new Simulator(spec, config.naming, clock, worldFile, anchor);
  const ports = { provider: simulator, lb: simulator, runner: simulator, windowSource: simulator };
  return assemble(config, opts, ports, givenStore ?? sqliteStore(config, opts), clock, simulator, SIMULATOR_SERVICES);
}

/** A reconciler that can only preview (`fleetwarden plan`), and where it read its state from. */
export interface PreviewController {
  readonly reconciler: Reconciler;
  /** The store read, in words; `null` when there is none yet (the preview plans a first tick, on an empty store). */
  readonly storeRead: string | null;
  close(): Promise<void>;
}

/** An existing SQLite store opened read-only; one of another schema version is the operator's to fix (exit 2). */
function readOnlySqlite(path: string): SqliteStore {
  try {
    return new SqliteStore(path, { readOnly: true });
  } catch (err) {
    if (err instanceof StoreError) throw new ValidationError('--state-dir', err.message);
    throw err;
  }
}

/**
 * The configured provider and store, for a preview that changes nothing: the SQLite file opened read-only (an empty
 * in-memory store when there is none yet: what a first tick would do), every store write refused (readOnlyStore), the
 * simulated world read from its file but never saved, and the clock its anchor gives (no re-anchoring). The AWS ports
 * are the usual ones: Reconciler.preview only reads through them (maintenance's sends go to recording ports).
 */
export async function openPreview(config: FleetConfig, opts: Pick<OpenOptions, 'stateDir' | 'clock' | 'retry' | 'sleep'>): Promise<PreviewController> {
  let inner: Store;
  let storeRead: string | null = storePathOf(config, opts.stateDir);
  if (config.store.kind === 'dynamodb') inner = (await import('./aws.js')).dynamoStore(config);
  else if (existsSync(storeRead)) inner = readOnlySqlite(storeRead);
  else {
    inner = new SqliteStore(':memory:');
    storeRead = null;
  }
  const store = readOnlyStore(inner);
  const base: OpenOptions = { ...opts, objects: null, owner: 'fleetwarden plan (preview; holds no lease)' };
  let ctl: Controller;
  if (config.provider === 'simulator') {
    const spec = simulatorSpec(config);
    const worldFile = spec.world ?? join(opts.stateDir, 'world.json');
    const clock = opts.clock ?? worldClock(config, opts.stateDir);
    const simulator = new Simulator(spec, config.naming, clock, worldFile, undefined, { readOnly: true });
    ctl = assemble(config, base, { provider: simulator, lb: simulator, runner: simulator, windowSource: simulator }, store, clock, simulator, SIMULATOR_SERVICES);
  } else {
    const clock = opts.clock ?? systemClock;
    const { objects: _objects, ...ports } = (await import('./aws.js')).awsPorts(config, clock);
    ctl = assemble(config, base, ports, store, clock, null, AWS_SERVICES);
  }
  // Not ctl.close(): it releases leases (a write); a preview holds none.
  return { reconciler: ctl.reconciler, storeRead, close: () => inner.close() };
}

/** A virtual clock whose sleeps advance it: back-off costs simulated time, not real time. */
export function virtualTime(start: number): { clock: VirtualClock; sleep: (ms: number) => Promise<void> } {
  const clock = new VirtualClock(start);
  const sleep = (ms: number): Promise<void> => {
    clock.set(clock.now() + ms);
    return Promise.resolve();
  };
  return { clock, sleep };
}
