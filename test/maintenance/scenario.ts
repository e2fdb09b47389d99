/**
 * The rolling-maintenance scenario shared by the simulator tests and the kill -9 test: six running instances behind
 * a target group, a window at 02:00 whose task patches them two at a time with a floor of four; i-web-003's
 * script asks for a reboot once (exit 194).
 */
export const ROLLING_START = '2026-06-07T01:40:00Z';

export const ROLLING = `            - name: patch
              command: "yum -y update # patch"
              drain: true
              maxConcurrency: 2
              capacityFloor: 4`;

export interface ScenarioOptions {
  /** The window's tasks, as YAML list items [ROLLING]. */
  readonly task?: string;
  /** More per-instance exit codes, e.g. `, i-web-002: [1]`. */
  readonly exits?: string;
  /** Simulator faults, e.g. `{ throttleRate: 0.3 }`. */
  readonly faults?: string;
  readonly start?: string;
  /** Simulated seconds per real second, for `fleetwarden run`. */
  readonly speed?: number;
  /** How long one run of the patch script takes [30s]. */
  readonly duration?: string;
}

export function rollingConfigText(o: ScenarioOptions = {}): string {
  return `
controller: { tickInterval: 15s, leaseTtl: 1m }
simulator:
  start: "${o.start ?? ROLLING_START}"
${o.speed === undefined ? '' : `  speed: ${o.speed}\n`}${o.faults === undefined ? '' : `  faults: ${o.faults}\n`}  bootTime: { min: 40s, max: 40s }
  deregistrationDelay: 30s
  healthyAfter: 20s
  groups:
    web:
      instances: 6
      running: true
      rebootTime: 60s
      commands:
        - { match: patch, duration: ${o.duration ?? '30s'}, exits: { i-web-003: [194, 0]${o.exits ?? ''} } }
groups:
  - name: web
    fleets: { main: { min: 6, desired: 6 } }
    lifecycle: { warmUp: 30s, drainMinimum: 20s }
    maintenance:
      windows:
        - name: FW-web-patch
          schedule: cron(0 2 * * ? *)
          durationHours: 2
          tasks:
${o.task ?? ROLLING}
`;
}
