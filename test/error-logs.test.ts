/**
 * An unexpected error reaches the client as "Unexpected error." and the log in full: its message,
 * its stack and its chain of causes down to the database's own error.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { BACKENDS, gatewayFixture, ONE_BACKEND, TEST_KEY } from './support/gateway.ts';

interface LoggedError {
  name?: string;
  message?: string;
  stack?: string;
  cause?: LoggedError;
}

/** The error and each of its causes, outermost first. */
function chain(error: LoggedError | undefined): LoggedError[] {
  const links: LoggedError[] = [];
  for (let link = error; link && links.length < 20; link = link.cause) links.push(link);
  return links;
}

/**
 * The domain's errors (schema/errors.ts maps them in Yoga's maskError) are answers, not failures: the
 * client gets their code and where they happened, and no error line is written.
 */
describe('an expected error', () => {
  // Yoga's masking and the log, not the database: one backend. First in the file, so the database it
  // hands back serves the failures below on that backend (they drop a table, so theirs is not handed on).
  const t = gatewayFixture(ONE_BACKEND, { AUTH_MODE: 'none,apikey' });

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const result = (await response.json()) as {
      errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
    };
    return { status: response.status, result };
  };

  it('is answered with its code and not logged as a failure', async () => {
    t.gw.logs.length = 0;
    const unknownKey = await post({ query: '{ __typename }' }, { authorization: 'Bearer hhk_unknown' });
    expect(unknownKey.status).toBe(401);
    expect(unknownKey.result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });

    const generate = (prompt: string) =>
      post({
        query: `mutation { generateVideo(input: { prompt: ${JSON.stringify(prompt)}, idempotencyKey: "errors-1" }) { prediction { id } } }`,
      });
    const first = await generate('a horse on a beach');
    expect(first.result.errors).toBeUndefined();
    const reused = await generate('a horse in the snow');
    expect(reused.result.errors?.[0]).toMatchObject({
      path: ['generateVideo'],
      extensions: { code: 'IDEMPOTENCY_KEY_REUSED', predictionId: expect.any(String) },
    });

    const errorLines = t.gw.logs.filter((line) => (JSON.parse(line) as { level: string }).level === 'error');
    expect(errorLines).toEqual([]);
    expect(t.gw.logs.join('\n')).not.toContain('request failed unexpectedly');
  });
});

// The cause chain ends in each driver's own error: on both backends.
describe.each(BACKENDS)('a database failure under a query, on %s', (backend) => {
  const t = gatewayFixture(backend);

  it('is masked for the client and logged with its cause and a stack', async () => {
    await t.db.database.db.execute(sql`drop table predictions cascade`);
    t.gw.logs.length = 0;

    // Over the real socket, with a request id: the log line must say which request failed.
    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'db-failure-1' },
      body: JSON.stringify({ query: '{ prediction(id: "00000000-0000-4000-8000-000000000000") { id } }' }),
    });
    const result = (await response.json()) as {
      errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
    };
    expect(result.errors![0]).toMatchObject({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'db-failure-1' },
    });
    expect(JSON.stringify(result)).not.toMatch(/predictions/);

    const lines = t.gw.logs.map(
      (line) => JSON.parse(line) as { level: string; msg: string; requestId?: string; err?: LoggedError },
    );
    const failures = lines.filter(
      (line) => line.level === 'error' && chain(line.err).some((e) => e.message?.startsWith('Failed query: select')),
    );
    // Logged once, by the request's logger (Yoga's own line, which cannot name the request, is not written).
    expect(failures, t.gw.logs.join('\n')).toHaveLength(1);
    const logged = failures[0]!;
    expect(logged).toMatchObject({ msg: 'request failed unexpectedly', requestId: 'db-failure-1' });
    const links = chain(logged!.err);
    // The database's own words, at the end of the chain: what an operator needs to see.
    const root = links.at(-1)!;
    expect(root.message).toMatch(/relation "predictions" does not exist/);
    expect(links.length).toBeGreaterThan(1);
    for (const link of links) expect(link.message).toEqual(expect.any(String));
    // A stack, with frames, somewhere in the chain (the driver's error or the query's).
    expect(links.some((link) => /\n\s+at /.test(link.stack ?? ''))).toBe(true);
    expect(t.gw.logs.join('\n')).not.toContain(TEST_KEY);
  });
});
