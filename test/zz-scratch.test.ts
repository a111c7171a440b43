import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { createVideoClient } from '../src/client/index.ts';
import { gatewayFixture } from './support/gateway.ts';
import { JwksServer, newSigningKey, post, get, signToken, sseRaw, subscribeAll, unsignedToken, type SigningKey } from './support/auth.ts';

describe('scratch', () => {
  let jwks: JwksServer;
  let k: SigningKey;
  const env: Record<string,string> = { AUTH_MODE: 'jwt', AUTH_JWKS_COOLDOWN_MS: '0', CORS_ORIGINS: 'https://app.example' };
  beforeAll(async () => {
    k = await newSigningKey('RS256', 'k1');
    jwks = await JwksServer.start([k.jwk]);
    env.AUTH_JWKS_URL = jwks.url;
  });
  afterAll(() => jwks.close());
  const t = gatewayFixture('pglite', env);
  it('probe', async () => {
    const good = await signToken(k, { sub: 'alice' });
    console.log('good', JSON.stringify(await post(t.gw.url, good, '{ viewer { id authenticatedBy } }')));
    console.log('none', JSON.stringify(await post(t.gw.url, unsignedToken({kid:'k1'}, {sub:'alice', exp: 9999999999}), '{ viewer { id } }')));
    const hs = await new SignJWT({sub:'alice'}).setProtectedHeader({alg:'HS256', kid:'k1'}).setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(40)));
    console.log('hs', JSON.stringify((await post(t.gw.url, hs, '{ viewer { id } }')).body));
    console.log('malformed', JSON.stringify((await post(t.gw.url, 'abc.def', '{ viewer { id } }')).body));
    const r = await sseRaw(t.gw.url, 'abc', { query: 'subscription { predictionUpdated(id: "x") { id } }' });
    console.log('sse', r.status, r.text, [...r.headers]);
    try { console.log(await subscribeAll(t.gw.url, 'abc', 'subscription { predictionUpdated(id: "x") { id } }')); } catch (e) { console.log('sse client err', e, (e as any)?.response?.status); }
    const g = await get(t.gw.url, good, '{ viewer { id } }', undefined, { csrf: false });
    console.log('get nocsrf', g.status, g.text);
    const g2 = await get(t.gw.url, undefined, '{ viewer { id } }');
    console.log('get unauth', g2.status, g2.text, [...g2.headers]);
    for (const origin of ['https://app.example', 'https://evil.example']) {
      const o = await fetch(t.gw.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
      console.log('cors', origin, o.status, [...o.headers]);
    }
    const c = createVideoClient({ url: t.gw.url });
    try { await c.generateVideo({ prompt: 'x' }); } catch (e) { console.log('client', (e as any).code, (e as Error).message); }
    try { for await (const p of c.watchPrediction('00000000-0000-4000-8000-000000000000')) console.log(p); } catch (e) { console.log('client watch', (e as any).code, (e as Error).message); }
    c.dispose();
  });
});
