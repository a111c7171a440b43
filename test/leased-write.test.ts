/** The two mechanisms that keep a database blip from holding leased rows back (src/background/leasedWrite.ts). */
import { describe, expect, it } from 'vitest';
import { Claims, leasedWrite } from '../src/background/leasedWrite.ts';

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
