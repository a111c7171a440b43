/**
 * The table of error codes in docs/errors.md, made from src/errorCodes.ts: `npm run docs:errors` writes it
 * between the two markers; test/error-codes.test.ts fails when the one there differs.
 */
import { fileURLToPath } from 'node:url';
import { ERROR_CODE_PATTERNS, ERROR_CODES, type ErrorCodeEntry } from '../src/errorCodes.ts';
import { type GeneratedTable, markdownTable, tableIn, writeTable } from './generatedTable.ts';

export const TABLE_START = '<!-- error codes: made from src/errorCodes.ts by `npm run docs:errors` -->';
export const TABLE_END = '<!-- end of error codes -->';
export const README = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

/** The table as markdown. */
export function errorCodesTable(): string {
  const entries: [string, ErrorCodeEntry][] = [...Object.entries(ERROR_CODES), ...Object.entries(ERROR_CODE_PATTERNS)];
  return markdownTable(
    ['code', 'HTTP', 'in', 'when'],
    entries.map(([code, entry]) => [`\`${code}\``, entry.httpStatus?.toString() ?? '', entry.seenIn, entry.meaning]),
  );
}

export const ERROR_CODES_TABLE: GeneratedTable = {
  doc: README,
  start: TABLE_START,
  end: TABLE_END,
  make: errorCodesTable,
  command: 'npm run docs:errors',
};

/** The doc's table as it stands, between the markers; undefined without them. */
export const readmeTable = (readme: string) => tableIn(readme, ERROR_CODES_TABLE);

if (process.argv[1] === fileURLToPath(import.meta.url)) writeTable(ERROR_CODES_TABLE);
