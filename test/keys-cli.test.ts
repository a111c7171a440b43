/**
 * `npm run keys -- create | list | revoke` against a fresh Postgres database: the keys it prints work
 * on a gateway there. Bad usage exits 2. (The PGlite data folder: keys-cli-pglite.test.ts.) The first
 * create goes through npm as operators type it; the rest run the same program from its bundle, which
 * starts in a fraction of the time (test/support/keysCli.ts).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post } from './support/auth.ts';
import { FakeAtlas } from './support/fakeAtlas.ts';
import { createServerDatabase, startGateway, type TestGateway } from './support/gateway.ts';
import { created, expectRefused, keys, SLOW, VIEWER, type ViewerReply } from './support/keysCli.ts';

let fake: FakeAtlas;
beforeAll(async () => {
  fake = await FakeAtlas.start();
});
afterAll(() => fake?.close());

describe('npm run keys against a fresh Postgres database', () => {
  let server: { url: string; drop(): Promise<void> };
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    server = await createServerDatabase();
  });
  afterAll(async () => {
    await gw?.close();
    await server?.drop();
  });

  it(
    'creates keys that work on a gateway there, lists one line per key with its id first, and revokes',
    async () => {
      const env = { DATABASE_URL: server.url };
      const first = created(
        await keys(
          [
            'create',
            '--name',
            'ci-bot',
            '--tenant',
            'acme',
            '--admin',
            '--active-jobs',
            '2',
            '--jobs-per-minute',
            '5',
            '--daily-spend-usd',
            '1.25',
          ],
          env,
          { via: 'npm' },
        ),
      );
      let second: { id: string; key: string };
      [second, gw] = await Promise.all([
        keys(['create', '--name', 'reporting'], env).then(created),
        startGateway({ databaseUrl: server.url, atlasUrl: fake.url, env: { AUTH_MODE: 'apikey' } }),
      ]);
      expect((await post<ViewerReply>(gw.url, first.key, VIEWER)).body.data?.viewer).toEqual({
        id: `key:${first.id}`,
        tenantId: 'acme',
        admin: true,
        authenticatedBy: 'API_KEY',
        limits: { activeJobs: 2, jobsPerMinute: 5, dailySpendUsd: 1.25 },
      });
      expect((await post<ViewerReply>(gw.url, second.key, VIEWER)).body.data?.viewer).toMatchObject({
        id: `key:${second.id}`,
        tenantId: null,
        admin: false,
      });

      const listed = await keys(['list'], env);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.lines).toHaveLength(2);
      expect(listed.lines[0]!.startsWith(`${first.id} `)).toBe(true);
      expect(listed.lines[1]!.startsWith(`${second.id} `)).toBe(true);
      expect(listed.lines[0]).toMatch(
        /name="ci-bot".*tenant=acme.*admin.*active.*active-jobs=2.*jobs-per-minute=5.*daily-spend-usd=1\.25/,
      );
      expect(listed.lines[1]).toMatch(/name="reporting".*tenant=-.*user.*active/);
      expect(listed.stdout).not.toContain(first.key);
      expect(listed.stdout).not.toContain(second.key);

      const revoked = await keys(['revoke', first.id], env);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(revoked.lines).toEqual([`revoked ${first.id}`]);
      expectRefused(await post(gw.url, first.key, VIEWER));
      expect((await post<ViewerReply>(gw.url, second.key, VIEWER)).body.data?.viewer.id).toBe(`key:${second.id}`);

      const [after, unknown] = await Promise.all([
        keys(['list'], env),
        keys(['revoke', '00000000-0000-4000-8000-000000000000'], env),
      ]);
      expect(after.lines).toHaveLength(2);
      expect(after.lines[0]).toMatch(/REVOKED=\d{4}-/);
      expect(after.lines[1]).not.toMatch(/REVOKED/);

      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/no key has the id 00000000-0000-4000-8000-000000000000/);
      expect(unknown.stderr).toMatch(/usage:/);
    },
    SLOW,
  );
});

describe('npm run keys with bad usage', () => {
  it(
    'exits 2 with the usage, before touching any database',
    async () => {
      const unused = mkdtempSync(join(tmpdir(), 'hh-keys-unused-'));
      try {
        const cases: [string[], RegExp][] = [
          [[], /^no command$/m],
          [['frobnicate'], /^unknown command: frobnicate$/m],
          [['create'], /--name is required/],
          [['create', '--name', 'x', '--active-jobs', 'many'], /--active-jobs must be a number/],
          [['create', '--name', 'x', '--bogus'], /--bogus/],
        ];
        const runs = await Promise.all(cases.map(([args]) => keys(args, { DATA_DIR: unused })));
        runs.forEach((run, i) => {
          const [args, message] = cases[i]!;
          expect(run.code, args.join(' ')).toBe(2);
          expect(run.stderr, args.join(' ')).toMatch(message);
          expect(run.stderr).toMatch(/usage:\n {2}npm run keys -- create --name NAME/);
          expect(run.stderr).toContain('npm run keys -- revoke ID');
          expect(run.stdout).not.toMatch(/hhk_/);
        });
        expect(readdirSync(unused)).toEqual([]);
      } finally {
        rmSync(unused, { recursive: true, force: true });
      }
    },
    SLOW,
  );
});
