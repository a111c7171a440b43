import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';
import { TEST_KEY } from './support/gateway.ts';

function capture(options?: Parameters<typeof createLogger>[2]) {
  const lines: string[] = [];
  const log = createLogger('debug', (line) => lines.push(line), options);
  return { log, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('the logger', () => {
  it('writes an error with its stack and every cause', () => {
    const { log, parsed } = capture();
    const root = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    log.error('it failed', { error: new Error('query failed', { cause: new Error('driver failed', { cause: root }) }) });
    const error = parsed()[0]!.error as { message: string; stack: string; cause: { message: string; cause: { message: string; code: string; stack: string } } };
    expect(error.message).toBe('query failed');
    expect(error.stack).toMatch(/\n\s+at /);
    expect(error.cause.message).toBe('driver failed');
    expect(error.cause.cause).toMatchObject({ message: 'connection refused', code: 'ECONNREFUSED' });
    expect(error.cause.cause.stack).toMatch(/\n\s+at /);
  });

  it('ends a cycle of causes instead of looping, and still writes the line', () => {
    const { log, parsed } = capture();
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    log.error('cycle', { error: a });
    expect(parsed()[0]).toMatchObject({ msg: 'cycle', error: { message: 'a', cause: { message: 'b', cause: '[cycle]' } } });
  });

  it('writes the event even when a field cannot be serialised', () => {
    const { log, parsed } = capture();
    log.info('odd field', { count: 1n });
    expect(parsed()[0]).toMatchObject({ level: 'info', msg: 'odd field', unserializable: expect.stringMatching(/BigInt/) });
  });

  it('redacts configured secrets from every string, in any spelling, errors included', () => {
    const { log, lines } = capture({ secrets: [TEST_KEY] });
    const encoded = encodeURIComponent(TEST_KEY).replaceAll('-', '%2D');
    log.warn(`message with ${TEST_KEY}`, {
      url: `https://cdn.example/v.mp4?k=${encoded}`,
      nested: { list: [TEST_KEY.toUpperCase()] },
      error: new Error(`upstream said ${TEST_KEY}`, { cause: new Error(TEST_KEY) }),
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.toLowerCase()).not.toContain(TEST_KEY.toLowerCase());
    expect(lines[0]).not.toContain(encoded);
    expect(lines[0]).toContain('[redacted]');
  });
});
