// @ts-check
/**
 * A folder made once per content of its inputs: the gateway's bundle for `npm start` (scripts/bundle.js),
 * and in the tests a production build or an `npm ci`, which are the same for the same source, so a
 * second run reuses the first one's instead of spending a minute on it again. Any change to an input
 * makes a new folder. Plain JavaScript: `npm start` and `npm install` run it without tsx.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/**
 * Every file under `paths` (files or folders), sorted, as "path\0content" into one hash.
 * @param {string} root
 * @param {string[]} paths relative to `root`; missing ones are skipped
 * @returns {string}
 */
export function contentHash(root, paths) {
  const hash = createHash('sha256');
  /** @type {string[]} */
  const files = [];
  for (const path of paths) {
    const full = join(root, path);
    if (!existsSync(full)) continue;
    if (statSync(full).isDirectory()) {
      for (const entry of readdirSync(full, { recursive: true, withFileTypes: true }))
        if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
    } else files.push(full);
  }
  for (const file of files.sort())
    hash
      .update(`${relative(root, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * The folder for `name` and `key`, made by `make` into a scratch folder and renamed into place only
 * when it succeeded, so an interrupted run leaves nothing that looks finished. In the system's temp
 * folder unless `parent` says where.
 * @param {string} name
 * @param {string} key
 * @param {(dir: string) => Promise<void>} make
 * @param {string} [parent]
 * @returns {Promise<{ dir: string; reused: boolean }>}
 */
export async function cachedFolder(name, key, make, parent = tmpdir()) {
  const dir = join(parent, `hh-cache-${name}-${key}`);
  if (existsSync(dir)) return { dir, reused: true };
  const scratch = `${dir}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  try {
    await make(scratch);
    renameSync(scratch, dir);
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    // Another run finished the same folder first: theirs is as good.
    if (existsSync(dir)) return { dir, reused: true };
    throw error;
  }
  return { dir, reused: false };
}
