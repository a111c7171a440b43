/**
 * The typed client's media modes against a real gateway on its built-in simulator (which fetches
 * every media URL it is handed, as Atlas would): image to video, reference images to video and video
 * edit, each from files sent with uploadMedia, followed to SUCCEEDED; an image below the model's
 * limits refused with a field-level BAD_USER_INPUT and no job stored; predictions(mode:) filtering.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createVideoClient,
  type Prediction,
  type VideoClient,
  VideoClientError,
} from '../packages/client/src/client/index.ts';
import { simulatorGatewayFixture } from './support/gateway.ts';
import { jpeg, png } from './support/images.ts';

const SAMPLE_MP4 = readFileSync(fileURLToPath(new URL('../src/simulator/sample.mp4', import.meta.url)));

let client: VideoClient;
// No key: the simulator, as `npm start` runs for a newcomer.
const sim = simulatorGatewayFixture({ SIMULATOR_JOB_MS: '300', POLL_INTERVAL_MS: '100' });

beforeAll(() => {
  client = createVideoClient({ url: sim.url });
});

afterAll(() => client?.dispose());

async function follow(prediction: Prediction): Promise<Prediction> {
  let latest = prediction;
  for await (const update of client.watchPrediction(prediction.id)) latest = update;
  return latest;
}

describe('the typed client in each media mode, on the simulator', () => {
  it('image to video from an uploaded PNG, passed as the Upload itself, to SUCCEEDED', async () => {
    const image = await client.uploadMedia(png(640, 360), { filename: 'first-frame.png' });
    const updates: string[] = [];
    const done = await client.generateAndWait(
      { mode: 'IMAGE_TO_VIDEO', image, prompt: 'The horse starts to run', duration: 3 },
      { onUpdate: (prediction) => updates.push(prediction.status) },
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', mode: 'IMAGE_TO_VIDEO', duration: 3 });
    expect(done.media).toEqual([expect.objectContaining({ role: 'IMAGE', uploadId: image.id })]);
    expect(done.videoUrl).toMatch(/\/videos\/[0-9a-f-]{36}\/0\.mp4\?expires=/);
    expect(updates.at(-1)).toBe('SUCCEEDED');
  });

  it('reference images to video from two uploads, in order, one as { uploadId }', async () => {
    const first = await client.uploadMedia(png(640, 480), { filename: 'rider.png' });
    const second = await client.uploadMedia(jpeg(800, 450), { filename: 'horse.jpg' });
    const submitted = await client.generateVideoFromReferences({
      images: [first, { uploadId: second.id }],
      prompt: 'character1 rides character2 along the shore',
      aspectRatio: 'RATIO_1_1',
    });
    expect(submitted.mode).toBe('REFERENCE_TO_VIDEO');
    expect(submitted.media.map((media) => [media.role, media.uploadId])).toEqual([
      ['REFERENCE', first.id],
      ['REFERENCE', second.id],
    ]);
    expect(await follow(submitted)).toMatchObject({ status: 'SUCCEEDED', aspectRatio: 'RATIO_1_1' });
  });

  it('edits an uploaded MP4 with a reference image, to SUCCEEDED', async () => {
    const video = await client.uploadMedia(SAMPLE_MP4, { filename: 'ride.mp4' });
    expect(video).toMatchObject({ status: 'READY', contentType: 'video/mp4' });
    const look = await client.uploadMedia(png(500, 500), { filename: 'look.png' });
    const submitted = await client.editVideo({
      video,
      referenceImages: [look],
      prompt: 'Make it snow',
      audio: 'KEEP_ORIGINAL',
    });
    expect(submitted.mode).toBe('VIDEO_EDIT');
    expect(submitted.media.map((media) => [media.role, media.uploadId])).toEqual([
      ['VIDEO', video.id],
      ['REFERENCE', look.id],
    ]);
    expect(await follow(submitted)).toMatchObject({ status: 'SUCCEEDED', mode: 'VIDEO_EDIT' });
  });

  it('refuses an image below 300 pixels on a side with the field and the rule, and stores no job', async () => {
    const before = await client.predictions({ first: 50 });
    const small = await client.uploadMedia(png(200, 400), { filename: 'small.png' });
    const error = await client.generateVideoFromImage({ image: { uploadId: small.id } }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(VideoClientError);
    expect((error as VideoClientError).code).toBe('BAD_USER_INPUT');
    expect((error as VideoClientError).extensions.issues).toEqual([
      { field: 'input.image.uploadId', message: expect.stringContaining('at least 300 pixels') },
    ]);
    expect((await client.predictions({ first: 50 })).edges).toHaveLength(before.edges.length);
  });

  it('lists jobs by mode', async () => {
    const byMode = async (mode: 'IMAGE_TO_VIDEO' | 'REFERENCE_TO_VIDEO' | 'VIDEO_EDIT' | 'TEXT_TO_VIDEO') =>
      (await client.predictions({ first: 50, mode: [mode] })).edges.map((edge) => edge.node.mode);
    expect(await byMode('IMAGE_TO_VIDEO')).toEqual(['IMAGE_TO_VIDEO']);
    expect(await byMode('REFERENCE_TO_VIDEO')).toEqual(['REFERENCE_TO_VIDEO']);
    expect(await byMode('VIDEO_EDIT')).toEqual(['VIDEO_EDIT']);
    expect(await byMode('TEXT_TO_VIDEO')).toEqual([]);
  });
});
