/**
 * What a suite needs from the machine (root, iptables, iproute2, HAProxy), checked in one place. On a laptop that
 * lacks something, the suite is skipped with one line naming what is missing and how to get it; with
 * FLEETWARDEN_REQUIRE_ALL=1 (CI sets it) a missing requirement is a failed test instead, so CI cannot go green by
 * skipping.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';

export interface Requirement {
  /** What is missing, as the skip line says it: "root", "haproxy". */
  readonly name: string;
  /** null when it is there; else how to get it: a Debian package to install, or a step in words. */
  readonly check: () => null | { apt: string } | { step: string };
}

/** Folders where Debian puts admin commands; a user's PATH often lacks them. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Whether `name` is an executable file in one of `path`'s folders (the tests run these commands through PATH). */
export function onPath(name: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A command the tests run through PATH, installed by `debianPackage` (found in `sbin` but not on PATH: say so). */
export function command(name: string, debianPackage: string, sbin: readonly string[] = SBIN): Requirement {
  return {
    name,
    check: () => {
      if (onPath(name)) return null;
      const dir = sbin.find((d) => onPath(name, d));
      return dir === undefined ? { apt: debianPackage } : { step: `put ${dir} on PATH` };
    },
  };
}

export const AS_ROOT: Requirement = { name: 'root', check: () => (process.getuid?.() === 0 ? null : { step: 'run as root (network namespaces, iptables rules)' }) };
export const IPTABLES: Requirement[] = [command('iptables', 'iptables'), command('ip6tables', 'iptables')];
export const IPROUTE2: Requirement = command('ip', 'iproute2');
export const HAPROXY: Requirement = command('haproxy', 'haproxy');
export const OPENSSL: Requirement = command('openssl', 'openssl');

export type Verdict = { run: true } | { run: false; fail: boolean; message: string };

/** Run, skip, or (FLEETWARDEN_REQUIRE_ALL=1) fail — and the one line that says why. */
export function assess(needs: readonly Requirement[], env: NodeJS.ProcessEnv = process.env): Verdict {
  const missing = needs.flatMap((r) => {
    const how = r.check();
    return how === null ? [] : [{ name: r.name, how }];
  });
  if (missing.length === 0) return { run: true };
  const packages = [...new Set(missing.flatMap(({ how }) => ('apt' in how ? [how.apt] : [])))];
  const steps = [...new Set(missing.flatMap(({ how }) => ('step' in how ? [how.step] : [])))];
  const remedies = [...(packages.length > 0 ? [`apt-get install ${packages.join(' ')}`] : []), ...steps];
  const line = `missing ${missing.map((m) => m.name).join(', ')}: ${remedies.join('; ')}`;
  const fail = env.FLEETWARDEN_REQUIRE_ALL === '1';
  return { run: false, fail, message: fail ? `${line} (FLEETWARDEN_REQUIRE_ALL=1: required here)` : line };
}

/**
 * Options for the suite's `describe`: `{}` when everything is there, else `{ skip: <why> }`. Under
 * FLEETWARDEN_REQUIRE_ALL=1 it also adds a failing test that says what is missing, so the run fails.
 */
export function requirements(...needs: (Requirement | readonly Requirement[])[]): { skip?: string } {
  const verdict = assess(needs.flat());
  if (verdict.run) return {};
  if (verdict.fail) {
    test(`requirements: ${verdict.message}`, () => {
      const error = new Error(verdict.message);
      error.stack = verdict.message; // the line says it all; a stack into this helper would only hide it
      throw error;
    });
  }
  return { skip: verdict.message };
}
/** Debian's Chromium, driven by playwright-core in the dashboard and report tests. */
export const CHROMIUM: Requirement = command('chromium', 'chromium');
