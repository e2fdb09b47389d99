/**
 * Instance tags are data from the cloud (DESIGN rule 8): each one Fleetwarden reads is checked here, where it enters
 * the planner. A value it cannot use is a reported problem of that instance, and the instance is left alone
 * (hands off, as if excluded) when guessing its meaning could stop or start it wrongly; it never stops the group.
 */
import type { GroupConfig, Naming } from '../config/config.js';
import { isSegmentName } from '../config/keys.js';
import type { ObservedInstance } from '../domain/model.js';
import type { Problem } from '../domain/problems.js';

export interface Inspection {
  /** The instances, with every unusable tag removed. */
  readonly instances: ObservedInstance[];
  /** Instances left alone, with why. */
  readonly quarantined: Map<string, string>;
  readonly problems: Problem[];
}

const BOOLEAN = /^(true|false)$/;

export function inspectInstances(instances: readonly ObservedInstance[], group: GroupConfig, naming: Naming): Inspection {
  const prefix = naming.tagPrefix;
  const out: ObservedInstance[] = [];
  const quarantined = new Map<string, string>();
  const problems: Problem[] = [];
  const tiers = group.workload === null ? null : new Set(group.workload.tiers.map((t) => t.name));
  for (const i of instances) {
    let tags = i.tags;
    const drop = (key: string): void => {
      const { [key]: _dropped, ...rest } = tags;
      tags = rest;
    };
    const report = (field: string, reason: string, leaveAlone: boolean): void => {
      problems.push({ source: 'instance', subject: i.id, field, value: i.tags[field] ?? '', reason: leaveAlone ? `${reason}; instance left alone until fixed` : reason });
      if (leaveAlone && !quarantined.has(i.id)) quarantined.set(i.id, `tag ${field} unusable: ${reason}`);
    };
    if (i.power !== 'terminated') {
      const sub = i.tags[`${prefix}:subfleet-name`];
      if (sub !== undefined && sub !== '' && !isSegmentName(sub)) {
        report(`${prefix}:subfleet-name`, 'a subfleet name is letters, digits, _ and - only', true);
        drop(`${prefix}:subfleet-name`);
      }
      const excluded = i.tags[`${prefix}:excluded`];
      // Hands off is the safe reading of an excluded tag we cannot read.
      if (excluded !== undefined && excluded !== '' && !BOOLEAN.test(excluded)) report(`${prefix}:excluded`, 'expected true or false', true);
      const lighthouse = i.tags[`${prefix}:lighthouse`];
      if (lighthouse !== undefined && lighthouse !== '' && !BOOLEAN.test(lighthouse)) {
        report(`${prefix}:lighthouse`, 'expected true or false; not counted as LightHouse', false);
        drop(`${prefix}:lighthouse`);
      }
      if (tiers !== null && group.workload !== null) {
        const tierTag = group.workload.tierTag;
        const tier = i.tags[tierTag];
        if (tier === undefined) problems.push({ source: 'instance', subject: i.id, field: tierTag, value: '', reason: `no ${tierTag} tag: not in any tier of the workload; left alone` });
        else if (!tiers.has(tier)) problems.push({ source: 'instance', subject: i.id, field: tierTag, value: tier, reason: `not a tier of the workload (${[...tiers].join(', ')}); left alone` });
      }
    }
    out.push(tags === i.tags ? i : { ...i, tags });
  }
  return { instances: out, quarantined, problems };
}
