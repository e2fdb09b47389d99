/** Presets and naming: shared by the controller and the on-instance agent (which takes only domain/). */

/** Tag and window naming of a deployment: `fleetwarden` (FW-, fleetwarden:) or `clonesquad` (CS-, clonesquad:). */
export type Preset = 'fleetwarden' | 'clonesquad';

export interface Naming {
  readonly preset: Preset;
  /** Tag key prefix: `<prefix>:group-name`, `<prefix>:subfleet-name`, `<prefix>:config:KEY`. */
  readonly tagPrefix: string;
  /** SSM window name prefix: `FW-<Group>`, `CS-<Group>-Mainfleet`, ... */
  readonly windowPrefix: string;
  /** Where in-instance event scripts live. */
  readonly eventDir: string;
  /** Where the agent's per-state scripts live (`<dir>/<state>/*`): the seed watcher's directory with clonesquad. */
  readonly stateScriptDir: string;
}

export function namingFor(preset: Preset): Naming {
  return preset === 'clonesquad'
    ? { preset, tagPrefix: 'clonesquad', windowPrefix: 'CS', eventDir: '/etc/cs-ssm/', stateScriptDir: '/etc/cs-instance-watcher.d/' }
    : { preset, tagPrefix: 'fleetwarden', windowPrefix: 'FW', eventDir: '/etc/fleetwarden/events/', stateScriptDir: '/etc/fleetwarden/agent.d/' };
}
