import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { errorCodesTable, README, readmeTable } from '../scripts/errorCodesTable.ts';
import { Unauthenticated } from '../src/auth/principal.ts';
import { ERROR_CODES, ErrorCode } from '../src/errorCodes.ts';
import { AdmissionRefused } from '../src/predictions/admission.ts';
import { NothingToRedeliver, ShuttingDown } from '../src/predictions/service.ts';
import { expectedGraphQLError } from '../src/schema/errors.ts';

const SRC = new URL('../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

describe('error codes', () => {
  it('are the table in docs/errors.md, made from src/errorCodes.ts (npm run docs:errors writes it)', () => {
    expect(readmeTable(readFileSync(README, 'utf8'))).toBe(errorCodesTable());
  });

  it('each name is its own value', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(ErrorCode[code as ErrorCode]).toBe(code);
  });

  it('are written nowhere in the gateway as string literals, only as ErrorCode constants', () => {
    // src/ only: the client package (packages/client) has codes of its own (NETWORK_ERROR, HTTP_502 …)
    // and does not import the gateway's modules. CANCELED is a status as well as a code.
    const gateway = sourceFiles(SRC).filter((file) => file !== join(SRC, 'errorCodes.ts'));
    const codes = new Set<string>(Object.keys(ERROR_CODES).filter((code) => code !== ErrorCode.CANCELED));
    const found = gateway.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
        .flatMap((line) => [...line.matchAll(/['"`]([A-Z][A-Z0-9_]+)['"`]/g)])
        .filter((match) => codes.has(match[1]!))
        .map((match) => `${file.slice(SRC.length)}: ${match[0]}`),
    );
    expect(found).toEqual([]);
  });
});

describe('the mapping from domain errors to GraphQL errors', () => {
  it('gives a refusal its code and details, where graphql-js located it', () => {
    const refusal = new AdmissionRefused(ErrorCode.RATE_LIMITED, 'too many', { limit: 2, retryAfterMs: 10 });
    const located = new GraphQLError(refusal.message, { path: ['generateVideo'], originalError: refusal });
    const error = expectedGraphQLError(located);
    expect(error?.toJSON()).toEqual({
      message: 'too many',
      path: ['generateVideo'],
      extensions: { code: 'RATE_LIMITED', limit: 2, retryAfterMs: 10 },
    });
  });

  it('maps each expected domain error, thrown bare or located', () => {
    const cases: [Error, string][] = [
      [new ShuttingDown('stopping'), ErrorCode.SHUTTING_DOWN],
      [new NothingToRedeliver('no webhook'), ErrorCode.BAD_USER_INPUT],
      [new Unauthenticated('expired'), ErrorCode.UNAUTHENTICATED],
    ];
    for (const [domain, code] of cases) {
      expect(expectedGraphQLError(domain)?.extensions.code).toBe(code);
      const located = new GraphQLError(domain.message, { originalError: domain });
      expect(expectedGraphQLError(located)?.extensions.code).toBe(code);
    }
    expect(expectedGraphQLError(new Unauthenticated('expired'))?.extensions.http).toEqual({
      status: 401,
      headers: { 'www-authenticate': 'Bearer' },
    });
  });

  it('leaves anything else to be masked as unexpected', () => {
    expect(expectedGraphQLError(new Error('boom'))).toBeUndefined();
    expect(expectedGraphQLError(new GraphQLError('located', { originalError: new TypeError('x') }))).toBeUndefined();
    expect(expectedGraphQLError(new GraphQLError('already a GraphQL error'))).toBeUndefined();
  });
});
