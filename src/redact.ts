/** What stands in for the key wherever it was found. */
export const REDACTED = '[redacted]';

/** Rounds of percent-decoding tried when looking for the key: URLs inside URLs are encoded once per level. */
const DECODE_ROUNDS = 4;

/**
 * Finds a secret in text we did not write, in the spellings an echo takes: as is, in another case
 * (hosts, and proxies that fold case), and percent-encoded, any hex case, wholly, partly or more than
 * once (URLs, and URLs inside URLs).
 */
export class SecretRedactor {
  readonly #needle: string;
  /** Each character of the secret as itself or as %XX (with %25 for each extra level of encoding). */
  readonly #pattern: RegExp;

  constructor(secret: string) {
    if (!secret) throw new Error('SecretRedactor needs a non-empty secret');
    this.#needle = secret.toLowerCase();
    this.#pattern = new RegExp([...secret].map(spellings).join(''), 'gi');
  }

  /** Whether `text` carries the secret in any of those spellings. */
  exposes(text: string): boolean {
    let current = text;
    for (let round = 0; round <= DECODE_ROUNDS; round++) {
      if (current.toLowerCase().includes(this.#needle)) return true;
      const decoded = percentDecode(current);
      if (decoded === current) return false;
      current = decoded;
    }
    return false;
  }

  /**
   * `text` with every copy of the secret replaced. A text that still carries it after that (in a
   * spelling the pattern does not know) is replaced whole: losing a message beats leaking the key.
   */
  redact(text: string): string {
    const replaced = text.replace(this.#pattern, REDACTED);
    return this.exposes(replaced) ? REDACTED : replaced;
  }
}

function spellings(char: string): string {
  const literal = char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  const bytes = [...Buffer.from(char, 'utf8')].map((byte) => `%(?:25)*${byte.toString(16).padStart(2, '0')}`).join('');
  return `(?:${literal}|${bytes})`;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A stray % makes decodeURIComponent give up on the whole string: decode what can be decoded.
    return text.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}
