/**
 * The table of error codes in docs/errors.md, made from src/errorCodes.ts: `npm run docs:errors` writes it
 * between the two markers; test/error-codes.test.ts fails when the one there differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODE_PATTERNS, ERROR_CODES, type ErrorCodeEntry } from '../src/errorCodes.ts';

export const TABLE_START = '<!-- error codes: made from src/errorCodes.ts by `npm run docs:errors` -->';
export const TABLE_END = '<!-- end of error codes -->';
export const README = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

/** The table as markdown, unpadded like the rest of the README's tables. */
export function errorCodesTable(): string {
  const entries: [string, ErrorCodeEntry][] = [...Object.entries(ERROR_CODES), ...Object.entries(ERROR_CODE_PATTERNS)];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(['code', 'HTTP', 'in', 'when']),
    line(['---', '---', '---', '---']),
    ...entries.map(([code, entry]) =>
      line([`\`${code}\``, entry.httpStatus?.toString() ?? '', entry.seenIn, entry.meaning]),
    ),
  ].join('\n');
}

/** The README's table as it stands, between the markers; undefined without them. */
export function readmeTable(readme: string): string | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + TABLE_START.length, end).trim();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`docs/errors.md has no "${TABLE_START}" … "${TABLE_END}" to write between`);
  writeFileSync(
    README,
    `${readme.slice(0, start + TABLE_START.length)}\n\n${errorCodesTable()}\n\n${readme.slice(end)}`,
  );
}
