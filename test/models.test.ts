/**
 * The model descriptors and what is derived from them, without a gateway: each model's upstream body
 * (one line per field name), the body check the simulator and the fake upstream answer with, media
 * limits at their edges, prices from PRICES / PRICES_FILE, and the simulator serving every model and
 * fetching the media it is given.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import {
  imageToVideo,
  MODELS,
  referenceToVideo,
  textToVideo,
  uploadProblem,
  upstreamBody,
  upstreamBodyProblem,
  videoEdit,
} from '../src/models/index.ts';
import { priceOf } from '../src/predictions/pricing.ts';
import { type AtlasSimulator, startAtlasSimulator } from '../src/simulator/atlasSimulator.ts';
import { KNOWN_MODELS } from '../src/vocabulary.ts';

describe('model descriptors', () => {
  it('has one descriptor per known model, each mode once', () => {
    expect(MODELS.map((model) => model.id).sort()).toEqual([...KNOWN_MODELS].sort());
    expect(MODELS.map((model) => model.mode).sort()).toEqual([
      'IMAGE_TO_VIDEO',
      'REFERENCE_TO_VIDEO',
      'TEXT_TO_VIDEO',
      'VIDEO_EDIT',
    ]);
  });

  it("builds each model's create body from its field names, and each passes the upstream's check", () => {
    const bodies = [
      upstreamBody(
        { model: textToVideo.id, prompt: 'p', resolution: '720P', aspectRatio: '4:3', duration: 6, seed: 1 },
        'https://gw.example/webhooks/atlas/t',
      ),
      upstreamBody({
        model: imageToVideo.id,
        resolution: '1080P',
        duration: 3,
        media: [{ role: 'image', url: 'https://x.example/a.png' }],
      }),
      upstreamBody({
        model: referenceToVideo.id,
        prompt: 'p',
        resolution: '720P',
        aspectRatio: '9:16',
        duration: 5,
        media: [
          { role: 'reference', url: 'https://x.example/1.png' },
          { role: 'reference', url: 'https://x.example/2.png' },
        ],
      }),
      upstreamBody({
        model: videoEdit.id,
        prompt: 'p',
        resolution: '720P',
        audio: 'GENERATE',
        media: [{ role: 'video', url: 'https://x.example/v.mp4' }],
      }),
    ];
    expect(bodies).toEqual([
      {
        model: textToVideo.id,
        prompt: 'p',
        resolution: '720P',
        aspect_ratio: '4:3',
        duration: 6,
        seed: 1,
        webhook_url: 'https://gw.example/webhooks/atlas/t',
      },
      { model: imageToVideo.id, resolution: '1080P', duration: 3, image_url: 'https://x.example/a.png' },
      {
        model: referenceToVideo.id,
        prompt: 'p',
        resolution: '720P',
        aspect_ratio: '9:16',
        duration: 5,
        reference_image_urls: ['https://x.example/1.png', 'https://x.example/2.png'],
      },
      {
        model: videoEdit.id,
        prompt: 'p',
        resolution: '720P',
        audio_setting: 'auto',
        video_url: 'https://x.example/v.mp4',
      },
    ]);
    for (const body of bodies) expect(upstreamBodyProblem(body)).toBeUndefined();
  });

  it.each([
    [{ prompt: 'p' }, 'model is required'],
    [{ model: 'alibaba/happyhorse-9/x' }, 'unknown model alibaba/happyhorse-9/x'],
    [{ model: textToVideo.id, resolution: '720P' }, `prompt is required for ${textToVideo.id}`],
    [{ model: imageToVideo.id, prompt: 'p' }, `image_url takes 1 URL(s) for ${imageToVideo.id}, not 0`],
    [
      { model: imageToVideo.id, image_url: 'https://x.example/a.png', aspect_ratio: '16:9' },
      `${imageToVideo.id} does not take aspect_ratio`,
    ],
    [
      { model: referenceToVideo.id, prompt: 'p', reference_image_urls: Array(10).fill('https://x.example/a.png') },
      `reference_image_urls takes 1 to 9 URL(s) for ${referenceToVideo.id}, not 10`,
    ],
    [
      { model: referenceToVideo.id, prompt: 'p', reference_image_urls: 'https://x' },
      'reference_image_urls must be an array of URLs',
    ],
    [
      { model: videoEdit.id, prompt: 'p', video_url: 'https://x.example/v.mp4', duration: 5 },
      `${videoEdit.id} does not take duration`,
    ],
  ])('refuses the body %j: %s', (body, problem) => {
    expect(upstreamBodyProblem(body)).toBe(problem);
  });

  it('holds the image limits at their edges', () => {
    const [firstFrame] = imageToVideo.media;
    const [reference] = referenceToVideo.media;
    const image = (width: number, height: number) => ({ contentType: 'image/png' as const, width, height });
    expect(uploadProblem(firstFrame!, image(300, 750))).toBeUndefined();
    expect(uploadProblem(firstFrame!, image(750, 300))).toBeUndefined();
    expect(uploadProblem(firstFrame!, image(300, 751))).toMatch(/aspect ratio/);
    expect(uploadProblem(firstFrame!, image(299, 299))).toMatch(/at least 300 pixels on each side/);
    expect(uploadProblem(reference!, image(400, 4000))).toBeUndefined();
    expect(uploadProblem(reference!, image(4000, 399))).toMatch(/at least 400 pixels on its shorter side/);
    expect(uploadProblem(reference!, { contentType: 'video/mp4', width: null, height: null })).toMatch(
      /must be an image/,
    );
  });
});

describe('prices', () => {
  const prices = (env: Record<string, string>) => loadConfig(env).prices;
  const i2v = (resolution: '720P' | '1080P', duration: number) => ({ resolution, duration });

  it('per second by resolution, per run, by model over mode over *, and today’s variables as the default', () => {
    const table = prices({
      PRICE_PER_RUN_USD: '0.2',
      PRICE_PER_SECOND_1080P_USD: '0.05',
      PRICES: JSON.stringify({
        '*': { perRunUsd: 0.3 },
        IMAGE_TO_VIDEO: { '720P': { perSecondUsd: 0.14 }, '1080P': { perSecondUsd: 0.24 } },
        [imageToVideo.id]: { '1080P': { perRunUsd: 9 } },
        VIDEO_EDIT: { perRunUsd: 0.5 },
      }),
    });
    // The model's own rule names 1080P only; 720P falls to the mode's per-second rule.
    expect(priceOf(imageToVideo, i2v('1080P', 5), table)).toBe(9);
    expect(priceOf(imageToVideo, i2v('720P', 5), table)).toBe(0.7);
    expect(priceOf(videoEdit, { resolution: '1080P' }, table)).toBe(0.5);
    expect(priceOf(referenceToVideo, i2v('1080P', 5), table)).toBe(0.3);

    const defaults = prices({ PRICE_PER_RUN_USD: '0.2', PRICE_PER_SECOND_1080P_USD: '0.05' });
    expect(priceOf(textToVideo, i2v('1080P', 8), defaults)).toBe(0.4);
    expect(priceOf(textToVideo, i2v('720P', 8), defaults)).toBe(0.2);
    // Video edit's length is not known at submission: the per-run price, whatever the per-second ones.
    expect(priceOf(videoEdit, { resolution: '1080P' }, defaults)).toBe(0.2);
  });

  it('reads PRICES_FILE', () => {
    const file = join(tmpdir(), `hh-prices-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ TEXT_TO_VIDEO: { perSecondUsd: 0.1 } }));
    expect(priceOf(textToVideo, i2v('720P', 7), prices({ PRICES_FILE: file }))).toBe(0.7);
  });

  it.each([
    [
      { PRICES: '{"VIDEO_EDIT": {"perSecondUsd": 0.1}}' },
      /PRICES: "VIDEO_EDIT": .*video-edit can only be priced per run/,
    ],
    [{ PRICES: '{"HORSE": {"perRunUsd": 1}}' }, /PRICES: "HORSE" is neither a model id, a mode/],
    [{ PRICES: '{"*": {"perRunUsd": -1}}' }, /PRICES: \*\.perRunUsd must not be negative/],
    [{ PRICES: '{"*": {"perMinuteUsd": 1}}' }, /PRICES: \* Unrecognized key: "perMinuteUsd"/],
    [
      { PRICES: '{"*": {"perRunUsd": 1, "perSecondUsd": 1}}' },
      /PRICES: \* must be \{"perRunUsd": n\} or \{"perSecondUsd": n\}/,
    ],
    [{ PRICES: '{"*": {"720P": {"perRunUsd": "1"}}}' }, /PRICES: \*\.720P\.perRunUsd Invalid input: expected number/],
    [{ PRICES: '{"*": ' }, /PRICES: is not JSON/],
    [{ PRICES: '{}', PRICES_FILE: '/nowhere.json' }, /PRICES: set PRICES or PRICES_FILE, not both/],
    [{ PRICES_FILE: '/nowhere/prices.json' }, /PRICES_FILE: cannot be read \(ENOENT\)/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('the simulator serves every model and fetches its media', () => {
  let simulator: AtlasSimulator;
  const media = createServer((req, res) => {
    if (req.url === '/ok.png') return res.writeHead(200, { 'content-type': 'image/png' }).end('png');
    res.writeHead(404).end();
  });
  let mediaUrl = '';
  beforeAll(async () => {
    simulator = await startAtlasSimulator({ jobMs: 50 });
    await new Promise<void>((resolve) => media.listen(0, '127.0.0.1', resolve));
    mediaUrl = `http://127.0.0.1:${(media.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await simulator.close();
    await new Promise((resolve) => media.close(resolve));
  });

  const create = async (body: Record<string, unknown>) => {
    const response = await fetch(`${simulator.url}/api/v1/model/generateVideo`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as { data?: { id: string }; message?: string } };
  };
  /** The job's state once it has ended (50 ms jobs). */
  const ended = async (id: string) => {
    for (;;) {
      const response = await fetch(`${simulator.url}/api/v1/model/prediction/${id}`, {
        headers: { authorization: 'Bearer k' },
      });
      const { data } = (await response.json()) as { data: { status: string; error: string | null } };
      if (data.status !== 'queued' && data.status !== 'processing') return data;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('completes a job whose media it could fetch, and fails one whose media it could not', async () => {
    const good = await create({ model: imageToVideo.id, image_url: `${mediaUrl}/ok.png` });
    expect(good.status).toBe(200);
    expect(await ended(good.json.data!.id)).toMatchObject({ status: 'completed' });
    const bad = await create({
      model: referenceToVideo.id,
      prompt: 'p',
      reference_image_urls: [`${mediaUrl}/ok.png`, `${mediaUrl}/gone.png`],
    });
    expect(await ended(bad.json.data!.id)).toMatchObject({
      status: 'failed',
      error: 'A media URL could not be downloaded',
    });
  });

  it('refuses (400) a body with a missing or unknown field for its model', async () => {
    expect(await create({ model: videoEdit.id, prompt: 'p' })).toEqual({
      status: 400,
      json: { code: 400, message: `video_url takes 1 URL(s) for ${videoEdit.id}, not 0` },
    });
    expect((await create({ model: textToVideo.id, prompt: 'p', ratio: '16:9' })).json.message).toBe(
      `${textToVideo.id} does not take ratio`,
    );
  });
});
