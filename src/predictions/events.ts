import { Repeater } from 'graphql-yoga';
import type { Database } from '../db/database.ts';
import { PREDICTION_CHANNEL, PredictionNotice } from '../db/notify.ts';
import { findPrediction } from '../db/queries/findPrediction.ts';
import { listPredictions } from '../db/queries/listPredictions.ts';
import type { PredictionRow } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { isTerminal } from '../vocabulary.ts';
import type { PredictionCache } from './cache.ts';

interface Watcher {
  /** The version this watcher has sent last. */
  version: number;
  /** Sends a row newer than the last one sent (true), or drops it (false); it does not end the stream. */
  offer(row: PredictionRow): boolean;
  /** Ends the stream. */
  end(): void;
}

/** Sends the row if it is newer, and ends the stream after a terminal state. */
function deliver(watcher: Watcher, row: PredictionRow): void {
  if (watcher.offer(row) && isTerminal(row.status)) watcher.end();
}

function someBehind(watchers: Set<Watcher> | undefined, version: number): boolean {
  for (const watcher of watchers ?? []) if (watcher.version < version) return true;
  return false;
}

/** A caller as owner of predictions: the same subject in another tenant is another owner. */
export interface Owner {
  id: string;
  tenantId: string | null;
}

const ownerKey = (owner: Owner) => JSON.stringify([owner.id, owner.tenantId]);

interface OwnerWatcher {
  owner: Owner;
  /** Per prediction, the version this watcher has sent last. */
  versions: Map<string, number>;
  deliver(row: PredictionRow): void;
  end(): void;
}

/**
 * How many of an owner's newest jobs a stream begins with, and gets again after a lost LISTEN
 * connection: one indexed read, enough for any list a page shows, and a client that reconnects its
 * stream corrects whatever it missed meanwhile.
 */
const OWNER_CATCH_UP = 50;

/**
 * Streams handed one change per turn of the event loop. Each push runs that subscriber's GraphQL
 * execution and queues its write; a loop over 10,000 in one go would hold every write (and all their
 * garbage) until the last execution, so the first subscriber would wait as long as the last. A turn
 * in between lets this batch's writes go out first.
 */
export const DELIVERIES_PER_TURN = 100;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Rows handed to one stream that its subscriber has not taken yet, past which the stream is ended. A
 * client that stops reading but keeps its connection (its socket's buffers full) would otherwise pile
 * up rows until Repeater throws (at 1,024) inside the fan-out, and the streams after it would miss the
 * change. A client that reconnects begins again from the stored state.
 */
export const MAX_UNREAD = 512;

/**
 * A Repeater's `push`, and how many of the values sent the subscriber has not taken yet (a push
 * settles once its value is taken and the next one asked for).
 */
export function unreadCounted<T>(push: (value: T) => Promise<unknown>): {
  send(value: T): Promise<void>;
  readonly unread: number;
} {
  let unread = 0;
  const taken = () => {
    unread--;
  };
  return {
    send(value) {
      unread++;
      return push(value).then(taken, taken);
    },
    get unread() {
      return unread;
    },
  };
}

/** `push`, until MAX_UNREAD values wait untaken; then `overflow`, once, and nothing more. */
function unreadLimited<T>(push: (value: T) => Promise<unknown>, overflow: () => void): (value: T) => void {
  const pushes = unreadCounted(push);
  let overflowed = false;
  return (value) => {
    if (overflowed) return;
    if (pushes.unread >= MAX_UNREAD) {
      overflowed = true;
      return overflow();
    }
    void pushes.send(value);
  };
}

/**
 * A read for watchers that failed (the database away a moment) is made again, after 250 ms, doubling
 * to 5 s: the change it would have delivered may be a job's end, which no later notice follows.
 */
const REREAD_FIRST_MS = 250;
const REREAD_MAX_MS = 5_000;

/**
 * Fans database notifications out to this process' subscribers. One LISTEN per process; a notice
 * names a prediction and the process re-reads it once for all of that prediction's watchers, so a
 * change polled by any gateway reaches subscribers on every gateway.
 */
export class PredictionEvents {
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #onAnyChange: Array<(notice: PredictionNotice) => void> = [];
  /** Streams of all of one owner's predictions, by ownerKey. */
  readonly #owners = new Map<string, Set<OwnerWatcher>>();
  #stopped = false;
  #unlisten: (() => Promise<void>) | undefined;
  /** Reads that failed, to be made again: by what they read, the timer and the delay before the next try. */
  readonly #rereads = new Map<string, { timer: NodeJS.Timeout | undefined; delayMs: number }>();

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    /** The read path's rows, kept fresh by the same notices. */
    private readonly cache?: PredictionCache,
    /** Told each time the LISTEN connection came back after a drop (metrics). */
    private readonly onReconnect?: () => void,
  ) {}

  /** Subscription streams open in this process. */
  get openStreams(): number {
    let open = 0;
    for (const set of this.#watchers.values()) open += set.size;
    for (const set of this.#owners.values()) open += set.size;
    return open;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.database.listen(
      PREDICTION_CHANNEL,
      (payload) => this.#onNotice(payload),
      () => {
        // Notices sent while the connection was down are gone: re-read everything watched.
        this.onReconnect?.();
        this.log.warn('notification connection restored; refreshing watched predictions', {
          watched: this.#watchers.size,
        });
        this.cache?.clear();
        for (const id of this.#watchers.keys()) void this.#refresh(id);
        for (const set of this.#owners.values()) {
          const [first] = set;
          if (first) void this.#catchUp(first.owner);
        }
      },
    );
  }

  /**
   * The prediction's current state at once, then each newer state, ending after a terminal one.
   * Versions only move forward, so a late or repeated read is never sent twice or out of order.
   */
  watch(initial: PredictionRow): AsyncIterable<PredictionRow> {
    return new Repeater<PredictionRow>(async (push, stop) => {
      const send = unreadLimited(push, () => this.#endUnread(() => stop(), { predictionId: initial.id }));
      const watcher: Watcher = {
        version: 0,
        offer(row) {
          if (row.version <= this.version) return false;
          this.version = row.version;
          send(row);
          return true;
        },
        end: () => stop(),
      };
      const set = this.#watchers.get(initial.id) ?? new Set();
      set.add(watcher);
      this.#watchers.set(initial.id, set);

      deliver(watcher, initial);
      // Anything that changed between the caller's read and our registration is caught here. Only
      // this watcher: the others heard of any such change from its notice.
      void this.#refresh(initial.id, watcher);

      await stop;
      set.delete(watcher);
      if (set.size === 0 && this.#watchers.get(initial.id) === set) this.#watchers.delete(initial.id);
    });
  }

  /** Call `listener` on every change announced, of any prediction (the poller wakes on one due now). */
  onAnyChange(listener: (notice: PredictionNotice) => void): void {
    this.#onAnyChange.push(listener);
  }

  /**
   * Every change of any of this owner's predictions (new ones included), each prediction's versions in
   * order and never twice; it begins with the owner's newest ones as they are now (OWNER_CATCH_UP), so
   * nothing that changed just before the subscription began is missed. It does not end on its own.
   */
  watchOwner(owner: Owner): AsyncIterable<PredictionRow> {
    return new Repeater<PredictionRow>(async (push, stop) => {
      // Only the two fields: a caller's principal carries more, which must not key the map.
      const own: Owner = { id: owner.id, tenantId: owner.tenantId };
      const key = ownerKey(own);
      const send = unreadLimited(push, () => this.#endUnread(() => stop(), { ownerId: own.id }));
      const watcher: OwnerWatcher = {
        owner: own,
        versions: new Map(),
        deliver(row) {
          if (row.version <= (this.versions.get(row.id) ?? 0)) return;
          this.versions.set(row.id, row.version);
          send(row);
        },
        end: () => stop(),
      };
      const set = this.#owners.get(key) ?? new Set();
      set.add(watcher);
      this.#owners.set(key, set);
      void this.#catchUp(watcher.owner, watcher);

      await stop;
      set.delete(watcher);
      if (set.size === 0 && this.#owners.get(key) === set) this.#owners.delete(key);
    });
  }

  /** Ends a stream whose subscriber stopped reading (MAX_UNREAD rows not taken). */
  #endUnread(end: () => void, fields: Record<string, string>): void {
    this.log.warn('a subscriber stopped reading its stream; ending it', { ...fields, unread: MAX_UNREAD });
    end();
  }

  /** End every stream and stop listening. (The server cuts SSE connections first, so clients reconnect.) */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { timer } of this.#rereads.values()) clearTimeout(timer);
    for (const set of this.#watchers.values()) for (const watcher of set) watcher.end();
    for (const set of this.#owners.values()) for (const watcher of set) watcher.end();
    await this.#unlisten?.().catch(() => {});
  }

  #onNotice(payload: string): void {
    let notice: PredictionNotice;
    try {
      notice = PredictionNotice.parse(JSON.parse(payload));
    } catch {
      this.log.warn('ignoring malformed notification', { payload: payload.slice(0, 200) });
      return;
    }
    this.cache?.announce(notice.id, notice.version);
    for (const listener of this.#onAnyChange) listener(notice);
    // Read the row only if some watcher has not seen this version yet.
    if (someBehind(this.#watchers.get(notice.id), notice.version)) return void this.#refresh(notice.id);
    if (this.#owners.size === 0) return;
    // A notice without its owner (from an older gateway) is read to learn it.
    if (notice.ownerId === undefined || notice.tenantId === undefined) return void this.#refresh(notice.id);
    const owners = this.#owners.get(ownerKey({ id: notice.ownerId, tenantId: notice.tenantId }));
    if (owners && [...owners].some((watcher) => (watcher.versions.get(notice.id) ?? 0) < notice.version))
      void this.#refresh(notice.id);
  }

  /** The owner's newest predictions as they are now, to one new stream (`only`) or all of the owner's. */
  async #catchUp(owner: Owner, only?: OwnerWatcher): Promise<void> {
    try {
      const rows = await listPredictions(this.database.db, {
        viewer: { ...owner, admin: false },
        limit: OWNER_CATCH_UP,
      });
      this.#readSucceeded(`owner ${ownerKey(owner)}`);
      // Oldest first, so a list built from the stream keeps its order.
      for (const row of rows.reverse()) {
        this.cache?.offer(row);
        for (const watcher of only ? [only] : (this.#owners.get(ownerKey(owner)) ?? [])) watcher.deliver(row);
      }
    } catch (error) {
      this.#readFailed(
        `owner ${ownerKey(owner)}`,
        () => this.#owners.has(ownerKey(owner)),
        () => this.#catchUp(owner),
        {
          message: "reading a caller's predictions failed; trying again",
          ownerId: owner.id,
          error,
        },
      );
    }
  }

  /** Reads the row once and hands it to its watchers (only `only`, for a new one), then to its owner's. */
  async #refresh(id: string, only?: Watcher): Promise<void> {
    try {
      const row = await findPrediction(this.database.db, id);
      this.#readSucceeded(`row ${id}`);
      if (!row) return;
      this.cache?.offer(row);
      if (only) return deliver(only, row);
      // A Set's iterator sees additions and deletions made while it waits: a watcher that left is not
      // reached, one that joined gets a row its version check may drop. A newer row delivered by a
      // later refresh meanwhile makes this one's older row a no-op for the watchers after it.
      let handed = 0;
      const turnTaken = () => ++handed % DELIVERIES_PER_TURN === 0;
      // A terminal state goes to every stream before any of them ends: ending one (the `complete`
      // event, the response's end, the socket's close) costs about as much as its event, and ending
      // as it goes would put that work ahead of the later subscribers' events.
      const ending: Watcher[] = [];
      for (const watcher of this.#watchers.get(id) ?? []) {
        if (watcher.offer(row) && isTerminal(row.status)) ending.push(watcher);
        if (turnTaken()) await nextTurn();
      }
      for (const watcher of this.#owners.get(ownerKey({ id: row.ownerId, tenantId: row.tenantId })) ?? []) {
        watcher.deliver(row);
        if (turnTaken()) await nextTurn();
      }
      for (const watcher of ending) {
        watcher.end();
        if (turnTaken()) await nextTurn();
      }
    } catch (error) {
      this.#readFailed(
        `row ${id}`,
        () => this.#watchers.has(id) || this.#owners.size > 0,
        () => this.#refresh(id),
        {
          message: 'reading a watched prediction failed; trying again',
          predictionId: id,
          error,
        },
      );
    }
  }

  /**
   * Make a failed read again later, for every watcher it was for (their versions drop what they have),
   * while any is left. Said once per run of failures.
   */
  #readFailed(
    key: string,
    stillWatched: () => boolean,
    read: () => Promise<void>,
    { message, ...fields }: { message: string } & Record<string, unknown>,
  ): void {
    if (this.#stopped) return;
    const retry = this.#rereads.get(key);
    if (retry?.timer) return; // another failed read of the same thing is already to be made again
    if (!retry) this.log.error(message, fields);
    const delayMs = retry ? Math.min(REREAD_MAX_MS, retry.delayMs * 2) : REREAD_FIRST_MS;
    const timer = setTimeout(() => {
      this.#rereads.set(key, { timer: undefined, delayMs });
      if (stillWatched()) void read();
      else this.#rereads.delete(key);
    }, delayMs);
    this.#rereads.set(key, { timer, delayMs });
  }

  #readSucceeded(key: string): void {
    const retry = this.#rereads.get(key);
    if (retry && !retry.timer) {
      this.#rereads.delete(key);
      this.log.info('a watched read succeeded again', { read: key });
    }
  }
}
