import { graphql } from './generated/index.ts';

/**
 * The admin operations `npm run keys -- --url` sends (src/cli/keys.ts, by operation name), here so that
 * codegen puts them in the persisted manifest and a PERSISTED_OPERATIONS=only gateway runs them. Shipping
 * them is harmless: the gateway lets only admins run them (FORBIDDEN for anyone else), whichever way
 * they arrive. Not exported from the package: the typed client has no key management.
 */

export const ApiKeyFieldsFragment = graphql(`
  fragment ApiKeyFields on ApiKey {
    id
    name
    prefix
    tenantId
    admin
    limits {
      activeJobs
      jobsPerMinute
      dailySpendUsd
    }
    createdAt
    lastUsedAt
    revokedAt
  }
`);

export const ApiKeysDocument = graphql(`
  query ApiKeys {
    apiKeys {
      ...ApiKeyFields
    }
  }
`);

export const CreateApiKeyDocument = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      secret
      apiKey {
        ...ApiKeyFields
      }
    }
  }
`);

export const RevokeApiKeyDocument = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
    }
  }
`);
