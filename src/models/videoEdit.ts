import { HAPPYHORSE_VIDEO_EDIT } from '../vocabulary.ts';
import { defineModel } from './descriptor.ts';
import { rules } from './rules.ts';

/** HappyHorse 1.0 video edit: restyle a source video; its aspect ratio and length follow the source. */
export const videoEdit = defineModel({
  id: HAPPYHORSE_VIDEO_EDIT,
  mode: 'VIDEO_EDIT',
  params: { prompt: rules.prompt, resolution: rules.resolution, seed: rules.seed, audio: rules.audio },
  required: ['prompt'],
  defaults: { resolution: '720P', audio: 'GENERATE' },
  upstream: {
    prompt: 'prompt',
    resolution: 'resolution',
    seed: 'seed',
    audio: ['audio_setting', { GENERATE: 'auto', KEEP_ORIGINAL: 'origin' }],
  },
  media: [
    {
      role: 'video',
      kind: 'video',
      upstreamField: 'video_url',
      list: false,
      min: 1,
      max: 1,
      contentTypes: ['video/mp4', 'video/quicktime'],
    },
    {
      role: 'reference',
      kind: 'image',
      upstreamField: 'reference_image_urls',
      list: true,
      min: 0,
      max: 5,
      contentTypes: ['image/jpeg', 'image/png', 'image/webp'],
    },
  ],
  // The output is as long as the source, which the gateway does not read: priced per run only.
  billedSeconds: () => undefined,
  // No length to go by: as a ten-second clip.
  typicalRunMs: (params) => (params.resolution === '1080P' ? 160_000 : 105_000),
});
