import type { Db } from '../db/database.ts';
import { activeApiKeyIds } from '../db/queries/activeApiKeyIds.ts';
import type { Logger } from '../log.ts';
import type { HeldCredential } from './principal.ts';

/**
 * How often the API keys behind open streams are read again. A key revoked anywhere (another gateway
 * process, the keys CLI) ends its streams here within this and one query: well inside 5 s.
 */
export const CREDENTIAL_RECHECK_MS = 2_000;
/** Key ids per query, far below Postgres' 65,535 parameters. */
const KEY_IDS_PER_QUERY = 1_000;
/** setTimeout's longest delay; a later expiry is waited for in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Told once, with a short reason for the caller, when the credential stops holding. */
export type OnLapse = (reason: string) => void;

export interface CredentialWatchOptions {
  db: Db;
  log: Logger;
  recheckMs?: number;
  /** Which of these keys are still active; the database query by default (tests count its calls). */
  readActiveKeyIds?: (db: Db, ids: readonly string[]) => Promise<Set<string>>;
}

/**
 * Watches the credentials of what outlives a request (subscription streams), so they end when the
 * credential would no longer be accepted: a JWT at its `exp`, an API key once it is revoked. The
 * database is the truth for keys, so this holds across gateway processes; it is read per period for
 * every watched key at once, not per stream, so 10,000 streams on one key cost one query a period.
 */
export class CredentialWatch {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #recheckMs: number;
  readonly #readActiveKeyIds: (db: Db, ids: readonly string[]) => Promise<Set<string>>;
  /** Per API key id, whom to tell of its revocation. */
  readonly #keys = new Map<string, Set<OnLapse>>();
  #recheckTimer: NodeJS.Timeout | undefined;
  #rechecking = false;
  /** The last recheck failed (logged once until one succeeds again). */
  #failing = false;

  constructor({
    db,
    log,
    recheckMs = CREDENTIAL_RECHECK_MS,
    readActiveKeyIds = activeApiKeyIds,
  }: CredentialWatchOptions) {
    this.#db = db;
    this.#log = log;
    this.#recheckMs = recheckMs;
    this.#readActiveKeyIds = readActiveKeyIds;
  }

  /** Calls `onLapse` once (never synchronously) when `credential` stops holding. Returns what stops the watch. */
  watch(credential: HeldCredential, onLapse: OnLapse): () => void {
    switch (credential.kind) {
      case 'none':
        return () => {};
      case 'jwt':
        return untilExpiry(credential.expiresAt, onLapse);
      case 'apikey':
        return this.#untilRevoked(credential.keyId, onLapse);
    }
  }

  /** API key ids watched now (for tests and metrics). */
  get watchedKeys(): number {
    return this.#keys.size;
  }

  stop(): void {
    clearInterval(this.#recheckTimer);
    this.#recheckTimer = undefined;
    this.#keys.clear();
  }

  #untilRevoked(keyId: string, onLapse: OnLapse): () => void {
    let listeners = this.#keys.get(keyId);
    if (!listeners) {
      listeners = new Set();
      this.#keys.set(keyId, listeners);
    }
    listeners.add(onLapse);
    if (!this.#recheckTimer) {
      this.#recheckTimer = setInterval(() => void this.#recheck(), this.#recheckMs);
      this.#recheckTimer.unref();
    }
    return () => {
      listeners.delete(onLapse);
      if (listeners.size === 0 && this.#keys.get(keyId) === listeners) this.#keys.delete(keyId);
      if (this.#keys.size === 0) {
        clearInterval(this.#recheckTimer);
        this.#recheckTimer = undefined;
      }
    };
  }

  async #recheck(): Promise<void> {
    // A slow database does not stack up queries: the next period asks again.
    if (this.#rechecking) return;
    this.#rechecking = true;
    const ids = [...this.#keys.keys()];
    try {
      const active = new Set<string>();
      for (let start = 0; start < ids.length; start += KEY_IDS_PER_QUERY) {
        for (const id of await this.#readActiveKeyIds(this.#db, ids.slice(start, start + KEY_IDS_PER_QUERY)))
          active.add(id);
      }
      if (this.#failing) this.#log.info('re-checking the API keys of open streams works again');
      this.#failing = false;
      for (const id of ids) {
        if (active.has(id)) continue;
        const listeners = this.#keys.get(id) ?? new Set<OnLapse>();
        this.#keys.delete(id);
        this.#log.info('ending the streams of a revoked API key', { keyId: id, streams: listeners.size });
        for (const onLapse of listeners) onLapse('the API key has been revoked');
      }
    } catch (error) {
      // Streams go on while the database is away (they get no updates then anyway); the next period decides.
      if (!this.#failing)
        this.#log.warn('re-checking the API keys of open streams failed; they stay open until a check succeeds', {
          error,
        });
      this.#failing = true;
    } finally {
      this.#rechecking = false;
    }
  }
}

/** A timer at `expiresAt` (in steps past setTimeout's limit), checked against the clock when it fires. */
function untilExpiry(expiresAt: Date, onLapse: OnLapse): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = expiresAt.getTime() - Date.now();
    if (left <= 0) {
      timer = undefined;
      return onLapse('the token has expired');
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  // Asynchronously even when already past: the caller is still setting up.
  timer = setTimeout(arm, 0);
  timer.unref();
  return () => clearTimeout(timer);
}
