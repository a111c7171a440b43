/**
 * A markdown table kept between two marker comments of a doc and made from code (the configuration
 * variables, the error codes): how the docs scripts build it, read it back and write it.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface GeneratedTable {
  /** The doc's path. */
  doc: string;
  /** The marker comments the table stands between. */
  start: string;
  end: string;
  /** The table as it should be. */
  make(): string;
  /** What to run when the doc's table is out of date. */
  command: string;
}

/** Rows as markdown, unpadded like the rest of the docs' tables. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The table as it stands in `text`, between the markers; undefined without them. */
export function tableIn(text: string, { start, end }: Pick<GeneratedTable, 'start' | 'end'>): string | undefined {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return undefined;
  return text.slice(from + start.length, to).trim();
}

/** The script's own run: writes the table into its doc, or with `--check` exits 1 when the doc's differs. */
export function writeTable(table: GeneratedTable, argv = process.argv): void {
  const text = readFileSync(table.doc, 'utf8');
  const from = text.indexOf(table.start);
  const to = text.indexOf(table.end);
  if (from < 0 || to < from) throw new Error(`${table.doc} has no "${table.start}" … "${table.end}" to write between`);
  const written = `${text.slice(0, from + table.start.length)}\n\n${table.make()}\n\n${text.slice(to)}`;
  if (!argv.includes('--check')) writeFileSync(table.doc, written);
  else if (written !== text) {
    console.error(`${table.doc}: the table is out of date; run \`${table.command}\``);
    process.exit(1);
  }
}
