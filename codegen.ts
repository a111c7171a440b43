import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents and the persisted-documents manifest, from the printed schema and packages/client's
 * operations: the client's own, and the admin ones `npm run keys -- --url` sends.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['packages/client/src/client/documents.ts', 'packages/client/src/client/adminDocuments.ts'],
  ignoreNoDocuments: false,
  generates: {
    'packages/client/src/client/generated/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { hashAlgorithm: 'sha256', mode: 'embedHashInDocument' },
      },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { DateTime: 'string' },
        importExtension: '.js',
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
      },
    },
  },
};

export default config;
