/** The schema's enums over the shared vocabulary: a prediction's resolution, aspect ratio and status. */
import {
  ASPECT_RATIO_ENUM,
  AUDIO_SETTINGS,
  MODES,
  PREDICTION_STATUSES,
  RESOLUTION_ENUM,
  TERMINAL_STATUSES,
  UNFINISHED_STATUSES,
} from '../vocabulary.ts';
import { builder } from './builder.ts';

export const Resolution = builder.enumType('Resolution', { values: enumValues(RESOLUTION_ENUM) });

export const AspectRatio = builder.enumType('AspectRatio', { values: enumValues(ASPECT_RATIO_ENUM) });

/** A name → value map (vocabulary.ts) in the form Pothos takes an enum's values. */
function enumValues<const Names extends Record<string, string>>(names: Names) {
  return Object.fromEntries(Object.entries(names).map(([name, value]) => [name, { value }])) as {
    [Name in keyof Names]: { value: Names[Name] };
  };
}

/** "A", "A and B", "A, B and C". */
const inWords = (words: readonly string[]) =>
  words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)}` : (words[0] ?? '');

export const PredictionStatus = builder.enumType('PredictionStatus', {
  description: `${inWords(UNFINISHED_STATUSES)} are unfinished; ${inWords(TERMINAL_STATUSES)} are final.`,
  values: PREDICTION_STATUSES,
});

export const Mode = builder.enumType('Mode', {
  description:
    'What a job starts from: a prompt (TEXT_TO_VIDEO), a first frame (IMAGE_TO_VIDEO), reference images (REFERENCE_TO_VIDEO) or a video (VIDEO_EDIT).',
  values: MODES,
});

export const AudioSetting = builder.enumType('AudioSetting', {
  description: "What an edited video's sound is: GENERATE new audio, or KEEP_ORIGINAL the source's.",
  values: AUDIO_SETTINGS,
});
