import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { FleetwardenError } from '../../domain/errors.js';

/**
 * Which build of better-sqlite3 the SQLite store opens its files with, by the Node.js running it:
 *  - Node 20: better-sqlite3 12 (`better-sqlite3`), compiled for that Node at install. 13 needs Node ≥ 22 and
 *    crashes on 20.
 *  - Node 22 and later: better-sqlite3 13 (`better-sqlite3-13`, an npm alias among the optional dependencies), a
 *    Node-API module shipped prebuilt for every Node ≥ 22. 12 must not be used there: it derives its classes from
 *    Node's header-only `node::ObjectWrap`, which since Node 24.19 removes a cleanup hook in its destructor and
 *    aborts the process (`Assertion failed: (env) != nullptr` in `Statement::~Statement`) whenever V8 collects a
 *    statement or database outside JavaScript, at any moment of a long run. 13 no longer uses `node::ObjectWrap`.
 * The two share the API this store uses (`prepare`, `pragma`, `transaction`, `exec`, `close`).
 * `.ci/on-node prepare` follows the same rule (it builds better-sqlite3 12 only for a Node below 22).
 */
export function sqlitePackageFor(nodeVersion: string): 'better-sqlite3' | 'better-sqlite3-13' {
  return Number(nodeVersion.split('.')[0]) >= 22 ? 'better-sqlite3-13' : 'better-sqlite3';
}

/** The `Database` class of the package `sqlitePackageFor(nodeVersion)` names, as `load` (a `require`) finds it. */
export function loadSqliteDatabase(nodeVersion: string, load: (id: string) => unknown): typeof BetterSqlite3 {
  const name = sqlitePackageFor(nodeVersion);
  try {
    return load(name) as typeof BetterSqlite3;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new FleetwardenError(
      `the SQLite store cannot load ${name} on Node ${nodeVersion}: ${missing ? 'it is not installed' : (err as Error).message}; ` +
        `run \`npm ci\` again with this Node${name === 'better-sqlite3-13' ? ' (without --omit=optional: it is an optional dependency, installed on Node ≥ 22)' : ''}`,
      { cause: err },
    );
  }
}

let loaded: typeof BetterSqlite3 | undefined;

/** better-sqlite3's `Database` class for this Node, loaded on first use (nothing native loads until a store opens). */
export function sqliteDatabase(): typeof BetterSqlite3 {
  loaded ??= loadSqliteDatabase(process.versions.node, createRequire(import.meta.url));
  return loaded;
}
