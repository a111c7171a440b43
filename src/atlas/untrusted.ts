import type { SecretRedactor } from '../redact.ts';

/** Deeper than any reply Atlas sends; anything deeper is dropped, not walked (`[[[[…` must not blow the stack). */
const MAX_DEPTH = 32;
/** Request ids are short printable tokens; anything else is not worth keeping for support. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
/** Unpaired UTF-16 surrogates: JSON can carry them (`"\ud800"`), UTF-8 and so Postgres cannot. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export interface Sanitized {
  value: unknown;
  /** How many strings carried the key and were redacted. */
  redacted: number;
}

/**
 * Every string in a parsed upstream reply made safe to store, log and return: the key redacted
 * wherever it appears, and NUL and unpaired surrogates (which Postgres text cannot hold) replaced
 * with U+FFFD. This is the one place upstream text is cleaned: everything read from a reply, the
 * job id, output URLs, codes, status words and messages, is read from what this returns.
 */
export function sanitizeReply(value: unknown, redactor: SecretRedactor): Sanitized {
  let redacted = 0;
  const walk = (node: unknown, depth: number): unknown => {
    if (typeof node === 'string') {
      const text = storable(node);
      const clean = redactor.redact(text);
      if (clean !== text) redacted++;
      return clean;
    }
    if (node === null || typeof node !== 'object') return node;
    if (depth >= MAX_DEPTH) return null;
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, walk(item, depth + 1)]));
  };
  return { value: walk(value, 0), redacted };
}

/**
 * The X-Request-ID to keep for support and logs, or undefined. One that carries the key is dropped
 * whole: half a request id helps nobody, and redacting it would still print something key-shaped.
 */
export function requestIdFrom(header: string | null, redactor: SecretRedactor): string | undefined {
  if (header === null || !REQUEST_ID.test(header) || redactor.exposes(header)) return undefined;
  return header;
}

export function storable(text: string): string {
  return text.replaceAll('\u0000', '\ufffd').replace(LONE_SURROGATE, '\ufffd');
}
