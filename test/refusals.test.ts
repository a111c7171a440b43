/**
 * Requests the gateway refuses get a code, never a 500: prompt text Postgres or Unicode cannot take,
 * documents over graphql-armor's limits, and introspection where it is turned off. All through
 * yoga.fetch, as a client sends them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAtlas } from './support/fakeAtlas.ts';
import {
  BACKENDS,
  gatewayFixture,
  ONE_BACKEND,
  openTestDatabase,
  startGateway,
  type TestDatabase,
  type TestGateway,
} from './support/gateway.ts';

const GENERATE = `mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id prompt } } }`;
const COUNT = '{ predictions(first: 100) { edges { cursor } } }';

describe.each(BACKENDS)('prompt text on %s', (backend) => {
  const t = gatewayFixture(backend);
  beforeEach(async () => {
    t.fake.reset();
    await t.db.truncate();
  });

  async function expectRefusedUntouched(
    result: { data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] },
    rule: RegExp,
  ) {
    expect(result.data ?? null).toBeNull();
    const error = result.errors![0]!;
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/^input\.prompt /);
    expect(error.message).toMatch(rule);
    expect(error.extensions?.issues).toEqual([{ field: 'input.prompt', message: expect.stringMatching(rule) }]);
    expect(t.fake.creates).toHaveLength(0);
    const listed = await t.gw.request<{ predictions: { edges: unknown[] } }>(COUNT);
    expect(listed.data!.predictions.edges).toHaveLength(0);
  }

  it('refuses a NUL character as BAD_USER_INPUT naming the field and the rule', async () => {
    await expectRefusedUntouched(
      await t.gw.request(GENERATE, { input: { prompt: 'a horse\u0000 on a beach' } }),
      /NUL character/,
    );
  });

  it('refuses a NUL character written in the document itself', async () => {
    const inline = 'mutation { generateVideo(input: { prompt: "a horse\\u0000" }) { prediction { id } } }';
    await expectRefusedUntouched(await t.gw.request(inline), /NUL character/);
  });

  it.each([
    ['a high surrogate', 'a horse \ud83d'],
    ['a low surrogate', '\udc0e a horse'],
  ])('refuses %s with no partner, which would be stored as U+FFFD but sent raw', async (_name, prompt) => {
    await expectRefusedUntouched(await t.gw.request(GENERATE, { input: { prompt } }), /unpaired surrogates/);
  });

  it('stores exactly what it sends for a prompt with astral characters', async () => {
    const prompt = 'a horse 🐎 under the northern lights 🌌';
    const result = await t.gw.request<{ generateVideo: { prediction: { prompt: string } } }>(GENERATE, {
      input: { prompt },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data!.generateVideo.prediction.prompt).toBe(prompt);
    expect((t.fake.creates[0]!.body as { prompt: string }).prompt).toBe(prompt);
  });
});

describe('documents over the query limits', () => {
  const t = gatewayFixture(ONE_BACKEND);
  const nested = (levels: number, inner: string) =>
    `${'... on Prediction { '.repeat(levels)}${inner}${' }'.repeat(levels)}`;
  const fields =
    'id status prompt model resolution aspectRatio duration seed upstreamId outputs videoUrl error errorCode predictTime createdAt updatedAt completedAt';

  it.each([
    ['tokens', `{ ${'__typename '.repeat(1001)}}`],
    ['directives', `{ __typename ${'@skip(if: false) '.repeat(51)}}`],
    ['aliases', `{ ${Array.from({ length: 16 }, (_, i) => `p${i}: prediction(id: "x") { id }`).join(' ')} }`],
    ['cost', `{ predictions(first: 100) { edges { node { ${fields} } } } }`],
    ['depth', `{ predictions(first: 1) { edges { node { ${nested(6, 'id')} } } } }`],
  ])('refuses one over the %s limit with QUERY_TOO_COMPLEX', async (limit, query) => {
    const result = await t.gw.request(query);
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    const error = result.errors![0]!;
    expect(error.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit });
    expect(error.message).toMatch(/limit/i);
    expect(error.message).not.toMatch(/Syntax Error/);
  });

  it('runs a document just inside the limits', async () => {
    const result = await t.gw.request(
      `{ ${Array.from({ length: 15 }, (_, i) => `p${i}: prediction(id: "x") { id }`).join(' ')} }`,
    );
    expect(result.errors).toBeUndefined();
  });
});

describe('introspection', () => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  const gateways: TestGateway[] = [];
  const start = async (env: Record<string, string>) => {
    const gw = await startGateway({ database: db.database, atlasUrl: fake.url, env });
    gateways.push(gw);
    return gw;
  };
  beforeAll(async () => {
    [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase(ONE_BACKEND)]);
  });
  afterAll(async () => {
    for (const gw of gateways) await gw.close();
    await Promise.all([fake?.close(), db?.close()]);
  });

  const SCHEMA = '{ __schema { queryType { name } } }';
  const TYPE = '{ t: __type(name: "Prediction") { fields { name } } }';

  it('is off in production: __schema and __type are refused with INTROSPECTION_DISABLED, the rest runs', async () => {
    const gw = await start({ NODE_ENV: 'production', AUTH_MODE: 'none' });
    for (const query of [SCHEMA, TYPE]) {
      const result = await gw.request(query);
      expect(result.data ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors![0]!.extensions?.code).toBe('INTROSPECTION_DISABLED');
    }
    const plain = await gw.request<{ __typename: string; predictions: unknown }>(`{ __typename ${COUNT.slice(1)}`);
    expect(plain.errors).toBeUndefined();
    expect(plain.data!.__typename).toBe('Query');
  });

  it.each([
    ['production with INTROSPECTION=true', { NODE_ENV: 'production', AUTH_MODE: 'none', INTROSPECTION: 'true' }],
    ['development', { NODE_ENV: 'development' }],
  ])('is on in %s', async (_name, env) => {
    const gw = await start(env);
    const schema = await gw.request<{ __schema: { queryType: { name: string } } }>(SCHEMA);
    expect(schema.errors).toBeUndefined();
    expect(schema.data!.__schema.queryType.name).toBe('Query');
    const type = await gw.request<{ t: { fields: { name: string }[] } }>(TYPE);
    expect(type.data!.t.fields.map((f) => f.name)).toContain('videoUrl');
  });
});
