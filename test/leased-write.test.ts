/** The two mechanisms that keep a database blip from holding leased rows back (src/background/leasedWrite.ts). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Claims, LOOP_QUERY_DEADLINE_MS, leasedWrite, logLeaseLost } from '../src/background/leasedWrite.ts';
import { createLogger } from '../src/log.ts';

const cut = () => Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });

describe('leasedWrite', () => {
  it('tries a failed write again until the database answers, and says a retry happened', async () => {
    let attempts = 0;
    const written = await leasedWrite(
      async () => {
        attempts++;
        if (attempts < 3) throw cut();
        return 'written';
      },
      { leaseUntil: new Date(Date.now() + 60_000) },
    );
    expect(written).toEqual({ result: 'written', retried: true });
    expect(attempts).toBe(3);
  });

  it('gives up with the last error once the next try would come after the lease', async () => {
    let attempts = 0;
    const failing = leasedWrite(
      async () => {
        attempts++;
        throw cut();
      },
      { leaseUntil: new Date(Date.now() + 250) },
    );
    await expect(failing).rejects.toThrow('CONNECTION_CLOSED');
    // 100 ms, then 200 ms would pass the lease: two attempts, not one, and not forever.
    expect(attempts).toBe(2);
  });
});

describe('Claims', () => {
  it('hands back what a failed claim may have leased, and nothing of a claim that was answered', async () => {
    const handedBack: string[] = [];
    const claims = new Claims({ onHandBackFailed: () => {} });
    // Cut off: whether it committed is unknown, so its lease is handed back.
    const failed = claims.take(
      new Date(Date.now() + 60_000),
      () => Promise.reject(cut()),
      async () => handedBack.push('failed'),
    );
    await expect(failed).rejects.toThrow('CONNECTION_CLOSED');
    const answered = await claims.take(
      new Date(Date.now() + 60_000),
      async () => ['row'],
      async () => handedBack.push('answered'),
    );
    expect(answered).toEqual(['row']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handedBack).toEqual(['failed']);
  });
});

describe('Claims after a claim that never answers (a connection gone silent)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A claim that goes unanswered (past LOOP_QUERY_DEADLINE_MS), with its lease `leaseMs` from now. */
  async function silentClaim(claims: Claims, leaseMs: number) {
    const silent = claims.take(
      new Date(Date.now() + leaseMs),
      () => new Promise<never>(() => {}),
      async () => {},
    );
    const failed = expect(silent).rejects.toThrow(/no answer/);
    await vi.advanceTimersByTimeAsync(LOOP_QUERY_DEADLINE_MS);
    await failed;
  }

  it("holds the next claim back only until the unanswered claim's lease runs out", async () => {
    const claims = new Claims({ onHandBackFailed: () => {} });
    await silentClaim(claims, 60_000);
    let asked = false;
    const next = claims.take(
      new Date(Date.now() + 60_000),
      async () => {
        asked = true;
        return ['row'];
      },
      async () => {},
    );
    // Still under the first claim's lease: what it may have taken is not free yet.
    await vi.advanceTimersByTimeAsync(60_000 - LOOP_QUERY_DEADLINE_MS - 1_000);
    expect(asked).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(asked).toBe(true);
    expect(await next).toEqual(['row']);
  });

  it('lets the next claim go at once once the loop is stopping', async () => {
    const stopping = new AbortController();
    const claims = new Claims({ stopping: stopping.signal, onHandBackFailed: () => {} });
    await silentClaim(claims, 60_000);
    let asked = false;
    const next = claims.take(
      new Date(Date.now() + 60_000),
      async () => {
        asked = true;
        return [];
      },
      async () => {},
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(asked).toBe(false);
    stopping.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(asked).toBe(true);
    await next;
  });
});

describe('logLeaseLost', () => {
  /** A fenced write of one row: it lands only while the row still carries `lease`, and moves the fence. */
  const fencedRow = (lease: string) => {
    let fence = lease;
    return (next: string) => {
      if (fence !== lease) return false;
      fence = next;
      return true;
    };
  };
  const messages = { lost: 'lease lost', retried: 'a retried write found its fence moved' };

  function logged() {
    const lines: Array<{ level: string; msg: string }> = [];
    const log = createLogger('debug', (line) => lines.push(JSON.parse(line) as { level: string; msg: string }));
    return { log, lines: () => lines.map(({ level, msg }) => ({ level, msg })) };
  }

  it('only at debug level when the retry found the first attempt, applied without an answer', async () => {
    const write = fencedRow('lease-1');
    let attempts = 0;
    const { result, retried } = await leasedWrite(
      async () => {
        attempts++;
        const applied = write('done');
        if (attempts === 1) throw cut(); // committed, then the connection was cut before the answer
        return applied;
      },
      { leaseUntil: new Date(Date.now() + 60_000) },
    );
    expect(result).toBe(false);
    const { log, lines } = logged();
    logLeaseLost(log, retried, messages, {});
    expect(lines()).toEqual([{ level: 'debug', msg: 'a retried write found its fence moved' }]);
  });

  it('as a warning when the first answer says another worker has the lease', async () => {
    const write = fencedRow('lease-1');
    write('another worker');
    const { result, retried } = await leasedWrite(async () => write('done'), {
      leaseUntil: new Date(Date.now() + 60_000),
    });
    expect(result).toBe(false);
    const { log, lines } = logged();
    logLeaseLost(log, retried, messages, {});
    expect(lines()).toEqual([{ level: 'warn', msg: 'lease lost' }]);
  });
});
