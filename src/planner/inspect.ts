/**
 * Instance tags are data from the cloud (docs/development.md, rule 8): each one Fleetwarden reads is checked here,
 * where it enters the planner. A value it cannot use is a reported problem of that instance, and the instance is left
 * alone (hands off, as if excluded) when guessing its meaning could stop or start it wrongly; it never stops the
 * group.
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
  const subKey = `${prefix}:subfleet-name`;
  const excludedKey = `${prefix}:excluded`;
  const lighthouseKey = `${prefix}:lighthouse`;
  const usable = (v: string | undefined, ok: (v: string) => boolean): boolean => v === undefined || v === '' || ok(v);
  const isBoolean = (v: string): boolean => BOOLEAN.test(v);
  for (const i of instances) {
    // The common case, every tag read is usable (or absent) and no workload to check: the instance as it came.
    if (i.power === 'terminated' || (tiers === null && usable(i.tags[subKey], isSegmentName) && usable(i.tags[excludedKey], isBoolean) && usable(i.tags[lighthouseKey], isBoolean))) {
      out.push(i);
      continue;
    }
    let tags = i.tags;
    const drop = (key: string): void => {
      const { [key]: _dropped, ...rest } = tags;
      tags = rest;
    };
    const report = (field: string, reason: string, leaveAlone: boolean): void => {
      problems.push({ source: 'instance', subject: i.id, field, value: i.tags[field] ?? '', reason: leaveAlone ? `${reason}; instance left alone until fixed` : reason });
      if (leaveAlone && !quarantined.has(i.id)) quarantined.set(i.id, `tag ${field} unusable: ${reason}`);
    };
    const sub = i.tags[subKey];
    if (sub !== undefined && sub !== '' && !isSegmentName(sub)) {
      report(subKey, 'a subfleet name is letters, digits, _ and - only', true);
      drop(subKey);
    }
    const excluded = i.tags[excludedKey];
    // Hands off is the safe reading of an excluded tag we cannot read.
    if (excluded !== undefined && excluded !== '' && !BOOLEAN.test(excluded)) report(excludedKey, 'expected true or false', true);
    const lighthouse = i.tags[lighthouseKey];
    if (lighthouse !== undefined && lighthouse !== '' && !BOOLEAN.test(lighthouse)) {
      report(lighthouseKey, 'expected true or false; not counted as LightHouse', false);
      drop(lighthouseKey);
    }
    if (tiers !== null && group.workload !== null) {
      const tierTag = group.workload.tierTag;
      const tier = i.tags[tierTag];
      if (tier === undefined) problems.push({ source: 'instance', subject: i.id, field: tierTag, value: '', reason: `no ${tierTag} tag: not in any tier of the workload; left alone` });
      else if (!tiers.has(tier)) problems.push({ source: 'instance', subject: i.id, field: tierTag, value: tier, reason: `not a tier of the workload (${[...tiers].join(', ')}); left alone` });
    }
    out.push(tags === i.tags ? i : { ...i, tags });
  }
  return { instances: out, quarantined, problems };
}

/** The tag keys that select instances for some group: the group tag, and the tag of each workload selected by one. */
export function selectingTagKeys(groups: readonly GroupConfig[], naming: Naming): string[] {
  return [...new Set([`${naming.tagPrefix}:group-name`, ...groups.flatMap((g) => (g.workload?.envFilter ? [g.workload.envFilter.key] : []))])];
}

/** The tags and values `groups` select their instances by: each group's tag, and a workload's filter tag. */
export function groupSelectors(groups: readonly GroupConfig[], naming: Naming): { key: string; value: string }[] {
  return groups.flatMap((g) => [{ key: `${naming.tagPrefix}:group-name`, value: g.name }, ...(g.workload?.envFilter ? [{ key: g.workload.envFilter.key, value: g.workload.envFilter.value }] : [])]);
}

/** An instance several groups select, kept (hands off) by one of them and reported there. */
export interface GroupConflict {
  readonly instanceId: string;
  readonly reason: string;
  readonly problem: Problem;
}

export interface Membership {
  /** Each group's instances. */
  readonly byGroup: Map<string, ObservedInstance[]>;
  /** Per group: the conflicts it keeps. */
  readonly conflicts: Map<string, GroupConflict[]>;
}

/**
 * Which group each observed instance belongs to: the group its `<prefix>:group-name` tag names, or a workload whose
 * `envFilterTag` it carries (seed 003). An instance selected by two groups is managed by neither: the group its group
 * tag names (else the first selecting group in the file) keeps it, left alone, with the problem reported — it is
 * never managed twice and never silently dropped.
 */
export function assignGroups(instances: readonly ObservedInstance[], groups: readonly GroupConfig[], naming: Naming): Membership {
  const groupTag = `${naming.tagPrefix}:group-name`;
  const byGroup = new Map<string, ObservedInstance[]>();
  const conflicts: Membership['conflicts'] = new Map();
  const add = <T>(map: Map<string, T[]>, key: string, v: T): void => {
    const list = map.get(key);
    if (list) list.push(v);
    else map.set(key, [v]);
  };
  // Per instance: one lookup by group name, and a look at each workload filter (few): a tick for 10,000 instances
  // stays linear in the instances.
  const names = new Set(groups.map((g) => g.name));
  const filters = groups.flatMap((g) => (g.workload?.envFilter ? [{ group: g.name, ...g.workload.envFilter }] : []));
  for (const i of instances) {
    const named = i.tags[groupTag];
    const own = named !== undefined && names.has(named) ? named : undefined;
    // The common case (the group tag alone selects it) allocates nothing per instance; the selectors are only
    // spelled out when a workload filter also matches.
    if (!filters.some((f) => i.tags[f.key] === f.value && named !== f.group)) {
      if (own !== undefined) add(byGroup, own, i);
      continue;
    }
    const selectors: { group: string; by: string; field: string; value: string }[] = [];
    // The group tag's group first, then the workload filters in file order.
    if (own !== undefined) selectors.push({ group: own, by: `${groupTag}=${own}`, field: groupTag, value: own });
    for (const f of filters) if (i.tags[f.key] === f.value && named !== f.group) selectors.push({ group: f.group, by: `${f.key}=${f.value}`, field: f.key, value: f.value });
    const [first, ...others] = selectors;
    if (first === undefined) continue;
    add(byGroup, first.group, i);
    if (others.length === 0) continue;
    const reason = `selected by several groups (${selectors.map((s) => `${s.group} by ${s.by}`).join(', ')}); an instance belongs to one group: left alone until its tags select only one`;
    add(conflicts, first.group, { instanceId: i.id, reason, problem: { source: 'instance', subject: i.id, field: others[0]?.field ?? first.field, value: others[0]?.value ?? first.value, reason } });
  }
  return { byGroup, conflicts };
}
