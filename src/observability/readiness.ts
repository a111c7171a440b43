import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { LoopHealth } from '../background/loopHealth.ts';
import { dataDirProblem } from '../dataDir.ts';
import type { Database } from '../db/database.ts';
import { isConnectionCut } from '../db/unavailable.ts';
import type { Logger } from '../log.ts';
import { withTimeout } from './timeout.ts';

/** The channel each process pings itself on, to know its LISTEN connection hears notices. */
const PING_CHANNEL = 'gateway_ping';
const PING_EVERY_MS = 5_000;
/** No ping heard for this long: the LISTEN connection is taken as down. */
const PING_STALE_MS = 3 * PING_EVERY_MS;
/** Long enough for a pool reconnecting after a failover on a busy machine; a database that is away fails at once. */
const DATABASE_TIMEOUT_MS = 3_000;
/** DATA_DIR is probed (a file written and removed) at most this often, however often /ready is asked. */
const DATA_DIR_PROBE_EVERY_MS = 2_000;

/**
 * `/health`: the process is alive. `/ready`: it should get traffic: migrations ran (it would not be
 * listening otherwise), the database answers, its LISTEN connection hears notices (it pings itself
 * through Postgres), its background loops complete their cycles, and it is not draining. A 503 says
 * which of these failed.
 */
export class Readiness {
  #draining = false;
  #heardAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  readonly #token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  #dataDir: { dir: string; probedAt: number; problem: Promise<string | undefined> } | undefined;

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly loops?: LoopHealth,
  ) {}

  async start(): Promise<void> {
    this.#unlisten = await this.database.listen(
      PING_CHANNEL,
      (payload) => {
        if (payload === this.#token) this.#heardAt = Date.now();
      },
      // Back after a drop: ping now rather than at the next interval, so an outage's end is seen at once.
      () => void this.#ping(),
    );
    this.#timer = setInterval(() => void this.#ping(), PING_EVERY_MS);
    this.#timer.unref();
  }

  /** /ready also answers 503 while DATA_DIR cannot be written (the journal of paid jobs' upstream ids is there). */
  watchDataDir(dataDir: string): void {
    this.#dataDir = { dir: dataDir, probedAt: Number.NEGATIVE_INFINITY, problem: Promise.resolve(undefined) };
  }

  /** From now on /ready answers 503 draining: the first step of a shutdown. */
  drain(): void {
    this.#draining = true;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
  }

  /** Why the gateway should not get traffic, or undefined when it should. `log`: the probe request's. */
  async notReady(log: Logger = this.log): Promise<string | undefined> {
    if (this.#draining) return 'draining: the gateway is shutting down';
    if (await this.#dataDirProblem(log)) return 'data dir: DATA_DIR cannot be written';
    try {
      await withTimeout(this.#selectOne(), DATABASE_TIMEOUT_MS);
    } catch (error) {
      log.warn('readiness: the database does not answer', { error });
      return 'database: it does not answer';
    }
    if (Date.now() - this.#heardAt > PING_STALE_MS) return 'listen: change notices have not arrived for a while';
    const stuck = this.loops?.stuck() ?? [];
    if (stuck.length > 0) return `background loops: ${stuck.join('; ')}`;
    return undefined;
  }

  /** Answers /health and /ready; false for any other request. `log`: the request's, with its id. */
  async serve(req: IncomingMessage, res: ServerResponse, log: Logger = this.log): Promise<boolean> {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/health') {
      reply(res, 200, { status: 'alive' });
      return true;
    }
    if (path !== '/ready') return false;
    const reason = await this.notReady(log);
    reply(res, reason ? 503 : 200, reason ? { status: 'not ready', reason } : { status: 'ready' });
    return true;
  }

  /**
   * Tried again on each connection found cut: after a failover or an operator's pg_terminate_backend
   * the pool may hand out every one of its connections, ended by the server, before a new one that
   * works. A database that cannot be reached fails at once.
   */
  async #selectOne(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return void (await this.database.db.execute(sql`select 1`));
      } catch (error) {
        if (!isConnectionCut(error) || attempt > this.database.poolSize) throw error;
        // Queries pipelined on a cut connection all fail together: let the pool see it closed first.
        await sleep(20 * attempt);
      }
    }
  }

  /** The last probe's finding, probing again once it is DATA_DIR_PROBE_EVERY_MS old; concurrent asks share one probe. */
  async #dataDirProblem(log: Logger): Promise<string | undefined> {
    const watched = this.#dataDir;
    if (!watched) return undefined;
    if (Date.now() - watched.probedAt >= DATA_DIR_PROBE_EVERY_MS) {
      watched.probedAt = Date.now();
      // A hung disk (a stuck network mount) must not hang /ready with it.
      watched.problem = withTimeout(dataDirProblem(watched.dir), DATABASE_TIMEOUT_MS).catch(
        () => `DATA_DIR (${watched.dir}) did not answer a write in ${DATABASE_TIMEOUT_MS} ms`,
      );
    }
    const problem = await watched.problem;
    if (problem) log.warn('readiness: DATA_DIR cannot be written', { problem });
    return problem;
  }

  async #ping(): Promise<void> {
    try {
      await this.database.db.execute(sql`select pg_notify(${PING_CHANNEL}, ${this.#token})`);
    } catch {
      // The database is away: /ready says so from its own query.
    }
  }
}

function reply(res: ServerResponse, status: number, body: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
