/**
 * PRICES (one JSON value) or PRICES_FILE: what each model costs, by model id, by mode, or for all
 * (`*`), and within each either one rule or one per resolution. A rule is `{ "perRunUsd": n }` or
 * `{ "perSecondUsd": n }`. The most specific rule that names the job's resolution wins; without one,
 * PRICE_PER_SECOND_<resolution>_USD, then PRICE_PER_RUN_USD, as before PRICES existed.
 *
 *   {"VIDEO_EDIT": {"perRunUsd": 0.5},
 *    "alibaba/happyhorse-1.0/image-to-video": {"720P": {"perSecondUsd": 0.14}, "1080P": {"perSecondUsd": 0.24}}}
 */
import { z } from 'zod';
import { findModel, MODELS } from './models/index.ts';
import { MODES, RESOLUTIONS } from './vocabulary.ts';

const usd = z.number().min(0, 'must not be negative').max(1_000_000, 'must be at most 1000000');
export const PriceRule = z
  .strictObject({ perRunUsd: usd.optional(), perSecondUsd: usd.optional() })
  .refine(
    (rule) => (rule.perRunUsd === undefined) !== (rule.perSecondUsd === undefined),
    'must be {"perRunUsd": n} or {"perSecondUsd": n}',
  );
export type PriceRule = { perRunUsd: number } | { perSecondUsd: number };
const ByResolution = z.partialRecord(z.enum(RESOLUTIONS), PriceRule);
export type PriceEntry = PriceRule | Partial<Record<(typeof RESOLUTIONS)[number], PriceRule>>;
export type PriceTable = Record<string, PriceEntry>;

/** An entry whose keys are all resolutions is per resolution; any other is one rule (so its errors read as a rule's). */
const perResolution = (entry: unknown) =>
  !!entry &&
  typeof entry === 'object' &&
  Object.keys(entry).length > 0 &&
  Object.keys(entry).every((key) => (RESOLUTIONS as readonly string[]).includes(key));

export const PriceTable = z.record(z.string(), z.unknown()).transform((table, ctx) => {
  for (const [key, entry] of Object.entries(table)) {
    const parsed = (perResolution(entry) ? ByResolution : PriceRule).safeParse(entry);
    for (const issue of parsed.error?.issues ?? [])
      ctx.addIssue({ code: 'custom', path: [key, ...issue.path], message: issue.message });
  }
  return table as PriceTable;
});

/** The key `*` prices every model that has no rule of its own. */
export const ALL_MODELS = '*';

/** What is wrong with a parsed table (a key that names no model or mode; per second where the length is unknown). */
export function priceTableProblems(table: PriceTable): string[] {
  const problems: string[] = [];
  for (const [key, entry] of Object.entries(table)) {
    const models = findModel(key)
      ? [findModel(key)!]
      : (MODES as readonly string[]).includes(key)
        ? MODELS.filter((model) => model.mode === key)
        : key === ALL_MODELS
          ? []
          : undefined;
    if (!models) {
      problems.push(`"${key}" is neither a model id, a mode (${MODES.join(', ')}) nor ${ALL_MODELS}`);
      continue;
    }
    const rules: (PriceRule | undefined)[] =
      'perRunUsd' in entry || 'perSecondUsd' in entry ? [entry as PriceRule] : Object.values(entry);
    const perSecond = rules.some((rule) => rule && 'perSecondUsd' in rule);
    const unmeasured = models.filter((model) => model.billedSeconds(model.defaults) === undefined);
    if (perSecond && unmeasured.length) {
      problems.push(
        `"${key}": ${unmeasured.map((model) => model.id).join(', ')} can only be priced per run (its length follows its source video)`,
      );
    }
  }
  return problems;
}
