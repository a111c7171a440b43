/**
 * The docs say what the code does: the table of docs/configuration.md is the one made from
 * src/configDocs.ts, which documents every variable the configuration reads, once, and no other, with
 * the defaults the schema applies. Every link from the README and docs/ to a file of this repository,
 * or to a heading of one, resolves.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { CONFIGURATION_DOC, configRows, configTable, documentedTable } from '../scripts/configTable.ts';
import { CONFIG_VARIABLES, Env } from '../src/config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** GitHub's anchor for a heading. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1]!)));
}

describe('the docs', () => {
  it('have the configuration table that src/configDocs.ts makes (npm run docs:config writes it)', () => {
    const written = documentedTable(readFileSync(CONFIGURATION_DOC, 'utf8'));
    expect(written).toBeDefined();
    expect(written).toBe(configTable());
  });

  it('document every configuration variable in the table exactly once, and only those', () => {
    const documented = configRows().flatMap((row) => row.variables);
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(50);
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it('show the defaults the schema applies', () => {
    const differ: string[] = [];
    for (const row of configRows()) {
      // A shared row shows one default per variable, in their order (`5000` / `3600000`).
      const shown = [...row.default.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
      row.variables.forEach((variable, index) => {
        const schema: ZodType = Env.shape[variable];
        const applied = schema.safeParse(undefined);
        if (!applied.success || applied.data === undefined) return; // no default: the docs say what unset does
        // Read as the gateway reads it, so `24h` stands for 86400 seconds.
        const read = shown[index] === undefined ? undefined : schema.safeParse(shown[index]);
        if (!read?.success || !isDeepStrictEqual(read.data, applied.data))
          differ.push(`${variable}: shows ${row.default}, the schema applies ${JSON.stringify(applied.data)}`);
      });
    }
    expect(differ).toEqual([]);
  });

  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const file = join(ROOT, doc);
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:)/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const linked = path ? resolve(dirname(file), path) : file;
        if (!existsSync(linked)) broken.push(`${doc}: ${target}`);
        else if (anchor && linked.endsWith('.md') && !anchors(linked).has(anchor)) broken.push(`${doc}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
