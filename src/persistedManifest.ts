import { existsSync, readFileSync } from 'node:fs';
import { Kind, type OperationTypeNode, parse } from 'graphql';
import { z } from 'zod';

/**
 * The manifest codegen writes next to the typed client (hash -> document): in the client package when
 * the gateway runs from source, beside this module once `npm run build` has copied it there (a built
 * gateway has no packages/ folder). Its own module, without the Yoga plugin persistedOperations.ts
 * loads, so that `npm run keys` reads it without loading the server.
 */
const builtManifest = new URL('./persisted-documents.json', import.meta.url);
const sourceManifest = new URL('../packages/client/src/client/generated/persisted-documents.json', import.meta.url);
export const manifest: Readonly<Record<string, string>> = z
  .record(z.string(), z.string())
  .parse(JSON.parse(readFileSync(existsSync(builtManifest) ? builtManifest : sourceManifest, 'utf8')));

/**
 * The hash a program sends for the manifest's operation of this type and name, as the typed client
 * does in persisted mode (`npm run keys -- --url`: its operations are in the manifest, written once in
 * packages/client/src/client/adminDocuments.ts). Codegen refuses two operations of one name, so the
 * name is enough. Undefined when the manifest has no such operation.
 */
export function persistedOperationHash(type: OperationTypeNode, name: string): string | undefined {
  for (const [hash, document] of Object.entries(manifest)) {
    const named = parse(document).definitions.some(
      (definition) =>
        definition.kind === Kind.OPERATION_DEFINITION &&
        definition.operation === type &&
        definition.name?.value === name,
    );
    if (named) return hash;
  }
  return undefined;
}
