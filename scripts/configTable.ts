/**
 * The table of configuration variables in docs/configuration.md, made from src/configDocs.ts: `npm run
 * docs:config` writes it between the two markers (scripts/generatedTable.ts), `npm run docs:config --
 * --check` fails when the one there differs (as does test/docs.test.ts).
 */
import { fileURLToPath } from 'node:url';
import type { ConfigVariable } from '../src/config.ts';
import { CONFIG_DOCS, type ConfigRowDoc, type ConfigVariableDoc } from '../src/configDocs.ts';
import { type GeneratedTable, markdownTable, tableIn, writeTable } from './generatedTable.ts';

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

/** The table as markdown. */
export function configTable(): string {
  return markdownTable(
    ['variable', 'default', 'meaning'],
    configRows().map((row) => [
      NAMES[row.names ?? 'A / B'](row.variables.map((name) => `\`${name}\``)),
      row.default,
      row.meaning,
    ]),
  );
}

export const CONFIGURATION_TABLE: GeneratedTable = {
  doc: CONFIGURATION_DOC,
  start: TABLE_START,
  end: TABLE_END,
  make: configTable,
  command: 'npm run docs:config',
};

/** The doc's table as it stands, between the markers; undefined without them. */
export const documentedTable = (doc: string) => tableIn(doc, CONFIGURATION_TABLE);

if (process.argv[1] === fileURLToPath(import.meta.url)) writeTable(CONFIGURATION_TABLE);
