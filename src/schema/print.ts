/** Prints the SDL to schema/schema.graphql; with --check, fails if the file is stale instead. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { schema } from './index.ts';

const file = fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url));
const sdl = `${printSchema(schema)}\n`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {}
  if (current !== sdl) {
    console.error('schema/schema.graphql is stale: run `npm run schema` and commit the result.');
    process.exit(1);
  }
  console.log('schema/schema.graphql is up to date.');
} else {
  writeFileSync(file, sdl);
  console.log(`Wrote ${file}`);
}
