import type { Config } from '../config.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { ModelDescriptor, ModelParams } from '../models/index.ts';
import { ALL_MODELS, type PriceRule } from '../prices.ts';

export type Prices = Config['prices'];

/**
 * What a job costs if charged: the most specific PRICES rule for its model (by id, then mode, then
 * `*`) and resolution; else today's variables, per second for its resolution when that price is set
 * and its length is known, else per run.
 */
export function priceOf(model: ModelDescriptor, params: ModelParams, prices: Prices): number {
  const seconds = model.billedSeconds(params);
  for (const key of [model.id, model.mode, ALL_MODELS]) {
    const entry = prices.table[key];
    if (!entry) continue;
    const rule: PriceRule | undefined =
      'perRunUsd' in entry || 'perSecondUsd' in entry ? (entry as PriceRule) : entry[params.resolution];
    if (!rule) continue;
    // A per-second rule for a model of unknown length is refused with the configuration (prices.ts).
    if ('perSecondUsd' in rule) return roundUsd(rule.perSecondUsd * (seconds ?? 0));
    return roundUsd(rule.perRunUsd);
  }
  const perSecond = prices.perSecondUsd[params.resolution];
  return roundUsd(perSecond === undefined || seconds === undefined ? prices.perRunUsd : perSecond * seconds);
}

/**
 * Whether a finished job counts as paid: it succeeded, or Atlas may have run and billed it without
 * us seeing the end (a lost submission answer; our own deadline passed while it ran; a cancel, which
 * Atlas does not have). Jobs Atlas refused or failed are not charged.
 */
export function isCharged(status: string, errorCode: string | null | undefined): boolean {
  return (
    status === 'SUCCEEDED' ||
    status === 'CANCELED' ||
    (status === 'FAILED' && (errorCode === ErrorCode.SUBMISSION_UNKNOWN || errorCode === ErrorCode.TIMED_OUT))
  );
}

export const roundUsd = (usd: number) => Math.round(usd * 1e6) / 1e6;
