import { imageSize } from 'image-size';
import { UPLOAD_CONTENT_TYPES, type UploadContentType } from '../vocabulary.ts';

/**
 * How much of a file's beginning is kept to read its type and an image's size. A JPEG's size comes
 * after its EXIF and colour profile segments (64 KiB each at most, usually a few): 512 KiB is ample.
 */
export const HEAD_BYTES = 512 * 1024;

const MIN_IMAGE_HEADER_BYTES = 32;

/** What the checks found: the upload is READY (with an image's pixels) or REJECTED for the named rule. */
export type Verdict =
  | { status: 'READY'; width: number | null; height: number | null }
  | { status: 'REJECTED'; rejectionReason: string };

/** The bytes broke a rule; `reason` names it, and is what the upload's rejectionReason says. */
export class UploadRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const NAMES: Record<UploadContentType, string> = {
  'image/jpeg': 'a JPEG image',
  'image/png': 'a PNG image',
  'image/webp': 'a WEBP image',
  'video/mp4': 'an MP4 video',
  'video/quicktime': 'a MOV (QuickTime) video',
};

/** ISO base media brands that are MP4 video (not HEIC, AVIF or 3GP, which share the container). */
const MP4_BRANDS = new Set([
  'isom',
  'iso2',
  'iso3',
  'iso4',
  'iso5',
  'iso6',
  'iso7',
  'iso8',
  'iso9',
  'mp41',
  'mp42',
  'mp71',
  'avc1',
  'M4V ',
  'M4VH',
  'M4VP',
  'dash',
  'MSNV',
  'mmp4',
]);
/** Top-level atoms an old QuickTime file (no `ftyp`) begins with. */
const QUICKTIME_ATOMS = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);

const ascii = (bytes: Uint8Array, from: number, to: number) => Buffer.from(bytes.subarray(from, to)).toString('latin1');

/** The type the first bytes show, among those accepted; undefined for anything else (or under 12 bytes). */
export function sniffContentType(head: Uint8Array): UploadContentType | undefined {
  if (head.length < 12) return undefined;
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (ascii(head, 0, 8) === '\x89PNG\r\n\x1a\n') return 'image/png';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'image/webp';
  const atom = ascii(head, 4, 8);
  if (atom === 'ftyp') {
    const brand = ascii(head, 8, 12);
    if (brand === 'qt  ') return 'video/quicktime';
    if (MP4_BRANDS.has(brand)) return 'video/mp4';
    return undefined;
  }
  return QUICKTIME_ATOMS.has(atom) ? 'video/quicktime' : undefined;
}

/** An image's width and height as displayed (an EXIF rotation of 90° swaps them), or undefined if the header is not all here. */
export function imagePixels(head: Uint8Array): { width: number; height: number } | undefined {
  try {
    const size = imageSize(head);
    if (!(size.width > 0 && size.height > 0)) return undefined;
    const turned = size.orientation !== undefined && size.orientation >= 5;
    return turned ? { width: size.height, height: size.width } : { width: size.width, height: size.height };
  } catch {
    // Truncated before the size (a JPEG's SOF after a long EXIF), or malformed.
    return undefined;
  }
}

/**
 * Checks an upload's bytes as they stream past, without keeping more than HEAD_BYTES: exactly the
 * declared size, a type from the first bytes that is the declared one, and for images a width and
 * height read from the header (no decode of the whole file). `push` throws UploadRejected as soon as
 * a rule is broken, so the rest need not be stored; `end` gives the verdict.
 */
export class UploadInspector {
  #received = 0;
  #head: Buffer[] = [];
  #headBytes = 0;
  #typeChecked = false;
  #pixels: { width: number; height: number } | undefined;

  constructor(private readonly declared: { contentType: UploadContentType; byteSize: number }) {}

  get received(): number {
    return this.#received;
  }

  push(chunk: Uint8Array): void {
    this.#received += chunk.byteLength;
    if (this.#received > this.declared.byteSize) throw this.sizeMismatch(this.#received, true);
    if (this.#headBytes < HEAD_BYTES && !this.#pixels) {
      const kept = chunk.subarray(0, HEAD_BYTES - this.#headBytes);
      this.#head.push(Buffer.from(kept));
      this.#headBytes += kept.byteLength;
      this.inspectHead(false);
    }
  }

  /** The body ended: READY, or the rule it broke. */
  end(): Verdict {
    return this.judge(() => {
      if (this.#received !== this.declared.byteSize) throw this.sizeMismatch(this.#received);
      this.inspectHead(true);
    });
  }

  /** READY if `checks` pass, else REJECTED with the rule they broke. */
  judge(checks: () => void): Verdict {
    try {
      checks();
      return { status: 'READY', width: this.#pixels?.width ?? null, height: this.#pixels?.height ?? null };
    } catch (error) {
      if (error instanceof UploadRejected) return { status: 'REJECTED', rejectionReason: error.reason };
      throw error;
    }
  }

  /** Type and pixels from the head kept so far; `complete`: no more of the head will come. */
  inspectHead(complete: boolean): void {
    const { contentType } = this.declared;
    const head = this.#head.length === 1 ? this.#head[0]! : Buffer.concat(this.#head);
    this.#head = [head];
    if (!this.#typeChecked) {
      if (head.length < 12 && !complete) return;
      const actual = sniffContentType(head);
      if (actual !== contentType) {
        throw new UploadRejected(
          `contentType: declared ${contentType}, but the bytes are ${actual ? `${NAMES[actual]} (${actual})` : 'not JPEG, PNG, WEBP, MP4 or MOV'}`,
        );
      }
      this.#typeChecked = true;
    }
    if (UPLOAD_CONTENT_TYPES[contentType] !== 'image' || this.#pixels) return;
    // A PNG's or WEBP's size is within its first 30 bytes; read from fewer, it would be garbage.
    if (head.length < MIN_IMAGE_HEADER_BYTES && !complete) return;
    this.#pixels = imagePixels(head);
    if (this.#pixels) {
      this.#head = [];
      return;
    }
    if (complete || this.#headBytes >= HEAD_BYTES) {
      throw new UploadRejected(
        `dimensions: the image's width and height could not be read from its header (the first ${HEAD_BYTES / 1024} KiB)`,
      );
    }
  }

  /** `atLeast`: the body was cut short of its end (stopped as soon as it passed the declared size). */
  sizeMismatch(sent: number, atLeast = false): UploadRejected {
    return new UploadRejected(
      `byteSize: declared ${this.declared.byteSize} bytes, but ${atLeast ? 'more than that' : sent} bytes were sent`,
    );
  }
}

/**
 * The same checks on an object already stored (S3): its total size, and its first bytes (HEAD_BYTES,
 * or all of it when smaller) for the type and an image's size.
 */
export function inspectStored(
  declared: { contentType: UploadContentType; byteSize: number },
  head: Uint8Array,
  totalBytes: number,
): Verdict {
  const inspector = new UploadInspector(declared);
  return inspector.judge(() => {
    if (totalBytes !== declared.byteSize) throw inspector.sizeMismatch(totalBytes);
    inspector.push(head.subarray(0, HEAD_BYTES));
    inspector.inspectHead(true);
  });
}
