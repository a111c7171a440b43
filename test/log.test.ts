import { describe, expect, it } from 'vitest';
import { createLogger, type Logger, lazyChild } from '../src/log.ts';
import { TEST_KEY } from './support/gateway.ts';

function capture(options?: Parameters<typeof createLogger>[2]) {
  const lines: string[] = [];
  const log = createLogger('debug', (line) => lines.push(line), options);
  return { log, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('the logger', () => {
  it("writes an error under pino's err key with its stack and every cause", () => {
    const { log, parsed } = capture();
    const root = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    log.error('it failed', {
      error: new Error('query failed', { cause: new Error('driver failed', { cause: root }) }),
    });
    const error = parsed()[0]!.err as {
      message: string;
      stack: string;
      cause: { message: string; cause: { message: string; code: string; stack: string } };
    };
    expect(error.message).toBe('query failed');
    expect(error.stack).toMatch(/\n\s+at /);
    expect(error.cause.message).toBe('driver failed');
    expect(error.cause.cause).toMatchObject({ message: 'connection refused', code: 'ECONNREFUSED' });
    expect(error.cause.cause.stack).toMatch(/\n\s+at /);
  });

  it('writes through a lazy child the lines its child would, and makes that child only when a line is written', () => {
    const { log, lines } = capture();
    let made = 0;
    const counting: Logger = {
      ...log,
      child: (bindings) => {
        made++;
        return log.child(bindings);
      },
    };
    const lazy = lazyChild(counting, { requestId: 'r-1' });
    expect(made).toBe(0);
    lazy.info('first', { n: 1 });
    lazy.child({ step: 'two' }).warn('second');
    log.child({ requestId: 'r-1' }).info('first', { n: 1 });
    expect(made).toBe(1);
    const [first, second, direct] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ level: 'info', msg: 'first', requestId: 'r-1', n: 1 });
    expect(second).toMatchObject({ level: 'warn', msg: 'second', requestId: 'r-1', step: 'two' });
    expect({ ...first, time: undefined }).toEqual({ ...direct, time: undefined });
  });

  it('keeps an error given as text where it was given', () => {
    const { log, parsed } = capture();
    log.warn('webhook given up', { error: 'HTTP 500' });
    expect(parsed()[0]).toMatchObject({ error: 'HTTP 500' });
    expect(parsed()[0]).not.toHaveProperty('err');
  });

  it('ends a cycle of causes instead of looping, and still writes the line', () => {
    const { log, parsed } = capture();
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    log.error('cycle', { error: a });
    expect(parsed()[0]).toMatchObject({
      msg: 'cycle',
      err: { message: 'a', cause: { message: 'b', cause: '[cycle]' } },
    });
  });

  it('writes the event even when a field is not plain JSON (a BigInt, a cycle)', () => {
    const { log, parsed } = capture();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    log.info('odd field', { count: 1n, loop });
    expect(parsed()[0]).toMatchObject({
      level: 'info',
      msg: 'odd field',
      count: 1,
      loop: { name: 'loop', self: '[cycle]' },
    });
  });

  it("censors credentials in the configured fields, at any depth pino knows, and adds a child's bindings", () => {
    const { log, parsed } = capture();
    log.child({ requestId: 'req-1' }).info('call', {
      headers: { authorization: 'Bearer abc', accept: 'json' },
      upstream: { apiKey: 'k', headers: { authorization: 'Bearer def' } },
    });
    expect(parsed()[0]).toMatchObject({
      requestId: 'req-1',
      headers: { authorization: '[redacted]', accept: 'json' },
      upstream: { apiKey: '[redacted]', headers: { authorization: '[redacted]' } },
    });
    expect(JSON.stringify(parsed()[0])).not.toMatch(/abc|def/);
  });

  it('honours the level, silent included', () => {
    const lines: string[] = [];
    const warnOnly = createLogger('warn', (line) => lines.push(line));
    warnOnly.info('dropped');
    warnOnly.warn('kept');
    createLogger('silent', (line) => lines.push(line)).error('dropped too');
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['kept']);
  });

  it('cuts out a key that JSON escaping changed (a quote, a backslash)', () => {
    const secret = 'sk-"quoted"\\-secret';
    const { log, lines, parsed } = capture({ secrets: [secret] });
    log.warn(`echo ${secret}`, { said: secret });
    expect(parsed()[0]).toMatchObject({ msg: 'echo [redacted]', said: '[redacted]' });
    expect(lines[0]).not.toContain('quoted');
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
