/**
 * The table of configuration variables in docs/configuration.md, made from src/configDocs.ts: `npm run
 * docs:config` writes it between the two markers, `npm run docs:config -- --check` fails when the one
 * there differs (as does test/docs.test.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConfigVariable } from '../src/config.ts';
import { CONFIG_DOCS, type ConfigRowDoc, type ConfigVariableDoc } from '../src/configDocs.ts';

export const TABLE_START = '<!-- configuration variables: made from src/configDocs.ts by `npm run docs:config` -->';
export const TABLE_END = '<!-- end of configuration variables -->';
export const CONFIGURATION_DOC = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

export interface ConfigRow extends ConfigRowDoc {
  /** The variables the row documents, the one whose entry holds the row first. */
  variables: ConfigVariable[];
}

const NAMES: Record<NonNullable<ConfigRowDoc['names']>, (names: string[]) => string> = {
  'A / B': (names) => names.join(' / '),
  'A + B': (names) => names.join(' + '),
  'A, B': (names) => names.join(', '),
  'A (or B)': ([first, ...rest]) => `${first} (or ${rest.join(' or ')})`,
};

/** The table's rows in the order of src/configDocs.ts; throws on an `inRowOf` that names no row. */
export function configRows(): ConfigRow[] {
  const entries = Object.entries(CONFIG_DOCS) as [ConfigVariable, ConfigVariableDoc][];
  const rows = new Map<ConfigVariable, ConfigRow>();
  for (const [variable, doc] of entries) if (!('inRowOf' in doc)) rows.set(variable, { ...doc, variables: [variable] });
  for (const [variable, doc] of entries) {
    if (!('inRowOf' in doc)) continue;
    const row = rows.get(doc.inRowOf);
    if (!row) throw new Error(`src/configDocs.ts: ${variable} is in the row of ${doc.inRowOf}, which has none`);
    row.variables.push(variable);
  }
  return [...rows.values()];
}

/** The table as markdown, unpadded like the rest of the docs' tables. */
export function configTable(): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(['variable', 'default', 'meaning']),
    line(['---', '---', '---']),
    ...configRows().map((row) =>
      line([NAMES[row.names ?? 'A / B'](row.variables.map((name) => `\`${name}\``)), row.default, row.meaning]),
    ),
  ].join('\n');
}

/** The doc's table as it stands, between the markers; undefined without them. */
export function documentedTable(doc: string): string | undefined {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  return doc.slice(start + TABLE_START.length, end).trim();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const doc = readFileSync(CONFIGURATION_DOC, 'utf8');
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`docs/configuration.md has no "${TABLE_START}" … "${TABLE_END}" to write between`);
  const written = `${doc.slice(0, start + TABLE_START.length)}\n\n${configTable()}\n\n${doc.slice(end)}`;
  if (process.argv.includes('--check')) {
    if (written !== doc) {
      console.error('docs/configuration.md: the table differs from src/configDocs.ts; run `npm run docs:config`');
      process.exit(1);
    }
  } else writeFileSync(CONFIGURATION_DOC, written);
}
