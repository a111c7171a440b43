import { HAPPYHORSE_IMAGE_TO_VIDEO } from '../vocabulary.ts';
import { defineModel } from './descriptor.ts';
import { perSecondRunMs, rules } from './rules.ts';

/** HappyHorse 1.0 image-to-video: the image is the first frame, and sets the aspect ratio. */
export const imageToVideo = defineModel({
  id: HAPPYHORSE_IMAGE_TO_VIDEO,
  mode: 'IMAGE_TO_VIDEO',
  params: { prompt: rules.prompt, resolution: rules.resolution, duration: rules.duration, seed: rules.seed },
  required: [],
  defaults: { resolution: '720P', duration: 5 },
  upstream: { prompt: 'prompt', resolution: 'resolution', duration: 'duration', seed: 'seed' },
  media: [
    {
      role: 'image',
      kind: 'image',
      upstreamField: 'image_url',
      list: false,
      min: 1,
      max: 1,
      contentTypes: ['image/jpeg', 'image/png', 'image/webp'],
      imageLimits: { minSide: 300, aspect: { min: 1 / 2.5, max: 2.5, text: '1:2.5 to 2.5:1' } },
    },
  ],
  billedSeconds: (params) => params.duration ?? undefined,
  typicalRunMs: (params) => perSecondRunMs(params.resolution, params.duration ?? 5),
});
