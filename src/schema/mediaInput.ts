/** MediaInput: an upload made through the gateway, or an https URL the caller hosts; and how it is checked. */
import { z } from 'zod';
import type { UploadRow } from '../db/schema.ts';
import type { MediaRef, MediaRole, MediaRoleName, ModelDescriptor } from '../models/index.ts';
import { uploadProblem } from '../models/index.ts';
import { FieldsRefused } from '../predictions/generate.ts';
import { mediaUrlProblem } from '../predictions/mediaUrls.ts';
import { isUploadId } from '../uploads/service.ts';
import type { GatewayContext } from './builder.ts';
import { builder } from './builder.ts';

export const MediaInput = builder.inputType('MediaInput', {
  isOneOf: true,
  description:
    'One image or video for a job: exactly one of uploadId (an upload of yours, READY) or url (https, a public host; Atlas Cloud fetches it).',
  fields: (t) => ({
    uploadId: t.id({ description: 'An upload you made with createUpload, READY.' }),
    url: t.string({
      description:
        'An https URL Atlas Cloud can fetch; private, loopback and link-local addresses are refused. At most 2048 characters.',
    }),
  }),
});

/** The checks that need no database: a URL's form and host, an upload id's form. */
export const mediaInputRules = z
  .object({ uploadId: z.union([z.string(), z.number()]).nullish(), url: z.string().nullish() })
  .superRefine((media, ctx) => {
    if (media.url != null) {
      const problem = mediaUrlProblem(media.url);
      if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
    } else if (media.uploadId != null && !isUploadId(String(media.uploadId))) {
      ctx.addIssue({ code: 'custom', path: ['uploadId'], message: 'names no upload of yours (not found)' });
    }
  });

const countRule = (role: MediaRole) =>
  `must hold ${role.min === role.max ? `exactly ${role.min}` : `from ${role.min} to ${role.max}`} item(s)`;

/** A list of media for a role, with its count rule. */
export const mediaListRules = (role: MediaRole) => {
  return z.array(mediaInputRules).min(role.min, countRule(role)).max(role.max, countRule(role));
};

/** One input field's media, for a role: where it is in the input (`input.images`), and each item. */
export interface GivenMedia {
  role: MediaRoleName;
  field: string;
  /** Null items are refused by GraphQL ([MediaInput!]); an absent list is no media. */
  items: readonly { uploadId?: string | number | null; url?: string | null }[];
  /** A single item (input.image), not a list (input.images.0). */
  single: boolean;
}

/**
 * Every item checked, then the uploads marked used: an upload that is not the caller's is "not
 * found"; one PENDING or REJECTED cannot be used (the reason says why); its kind and type must fit
 * the role, and an image's stored width and height the model's limits. All refusals come back at once,
 * and nothing is marked used unless everything passes. Returns the media in order and the uploads.
 */
export async function checkMedia(
  { uploads, principal }: Pick<GatewayContext, 'uploads' | 'principal'>,
  model: ModelDescriptor,
  given: readonly GivenMedia[],
): Promise<{ media: MediaRef[]; uploads: Map<string, UploadRow> }> {
  const issues: { field: string; message: string }[] = [];
  const media: MediaRef[] = [];
  const found = new Map<string, UploadRow>();
  for (const { role: name, field, items, single } of given) {
    const role = model.media.find((candidate) => candidate.role === name);
    if (!role) {
      if (items.length) issues.push({ field, message: `is not taken by ${model.id}` });
      continue;
    }
    // The schema checked the count for the mode's first model; the one chosen may take fewer or more.
    if (items.length < role.min || items.length > role.max) {
      issues.push({ field, message: countRule(role) });
      continue;
    }
    for (const [index, item] of items.entries()) {
      const at = single ? field : `${field}.${index}`;
      if (item.url != null) {
        media.push({ role: role.role, url: item.url });
        continue;
      }
      const id = String(item.uploadId);
      const row = await uploads.complete(principal, id);
      if (!row) {
        issues.push({ field: `${at}.uploadId`, message: 'names no upload of yours (not found)' });
        continue;
      }
      const problem =
        row.status === 'PENDING'
          ? 'has not been sent yet (PUT its bytes to uploadUrl first)'
          : row.status === 'REJECTED'
            ? `was rejected: ${row.rejectionReason}`
            : uploadProblem(role, row);
      if (problem) issues.push({ field: `${at}.uploadId`, message: problem });
      else {
        media.push({ role: role.role, uploadId: row.id });
        found.set(row.id, row);
      }
    }
  }
  if (issues.length) throw new FieldsRefused(issues);
  for (const [id] of found) {
    const used = await uploads.use(principal, id);
    if (!used || 'unusable' in used) {
      const at = given.flatMap(({ field, items, single }) =>
        items.flatMap((item, index) => (String(item.uploadId) === id ? [single ? field : `${field}.${index}`] : [])),
      );
      throw new FieldsRefused([
        {
          field: `${at[0] ?? 'input'}.uploadId`,
          message: used ? used.unusable : 'names no upload of yours (not found)',
        },
      ]);
    }
    found.set(id, used);
  }
  return { media, uploads: found };
}
