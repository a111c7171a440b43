/** The two mechanisms that keep a database blip from holding leased rows back (src/background/leasedWrite.ts). */
import { describe, expect, it } from 'vitest';
import { Claims, leasedWrite, logLeaseLost } from '../src/background/leasedWrite.ts';
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
