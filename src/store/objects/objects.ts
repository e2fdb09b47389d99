import { mkdir, readdir, readFile, rm, stat, writeFile, rename } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { checkKey } from '../../domain/object-keys.js';
import type { ObjectStore, StoredObject } from '../../ports/index.js';

export { checkKey } from '../../domain/object-keys.js';

/** The default object store: files under a directory, written atomically. */
export class DirectoryObjectStore implements ObjectStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async put(key: string, body: string): Promise<void> {
    const file = join(this.root, checkKey(key));
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, file);
  }

  async get(key: string): Promise<string | null> {
    try {
      return await readFile(join(this.root, checkKey(key)), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (!e.name.endsWith('.tmp')) {
          const key = relative(this.root, full).split(sep).join('/');
          if (!key.startsWith(prefix)) continue;
          const st = await stat(full);
          out.push({ key, lastModified: st.mtimeMs, size: st.size });
        }
      }
    };
    await walk(this.root);
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const k of keys) await rm(join(this.root, checkKey(k)), { force: true });
  }
}

/** Deletes objects under `prefix` older than `olderThan` (the output retention, 90 days by default). */
export async function pruneObjects(store: ObjectStore, prefix: string, olderThan: number): Promise<number> {
  const old = (await store.list(prefix)).filter((o) => o.lastModified < olderThan).map((o) => o.key);
  await store.delete(old);
  return old.length;
}
