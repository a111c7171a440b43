/**
 * Tiny real images, made in code so no binary fixtures are checked in: a grey PNG (zlib), a grey
 * baseline JPEG (every block flat, so its scan is a few bits a block with one-code Huffman tables),
 * and a one-colour lossless WEBP (VP8L with single-symbol prefix codes, so pixels take no bits).
 * Each decodes in a browser; the gateway reads only their headers.
 */
import { crc32, deflateSync } from 'node:zlib';

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

export function png(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  // One filter byte (none) and `width` grey pixels per row.
  const rows = Buffer.alloc((width + 1) * height, 0x80);
  for (let row = 0; row < height; row++) rows[row * (width + 1)] = 0;
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(rows)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const segment = (marker: number, data: Buffer) => {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(data.length + 2, 2);
  return Buffer.concat([head, data]);
};

export function jpeg(width: number, height: number): Buffer {
  const jfif = Buffer.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const quantisation = Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 1)]);
  const frame = Buffer.alloc(9);
  frame[0] = 8;
  frame.writeUInt16BE(height, 1);
  frame.writeUInt16BE(width, 3);
  frame.set([1, 1, 0x11, 0], 5); // one component: id 1, 1×1 sampling, table 0
  // DC table 0 and AC table 0, each with one code of one bit: DC difference 0, and end of block.
  const oneCode = (tableClass: number) =>
    Buffer.concat([Buffer.from([tableClass << 4, 1]), Buffer.alloc(15), Buffer.from([0])]);
  const scanHeader = Buffer.from([1, 1, 0x00, 0, 63, 0]);
  // Level-shifted grey 128 is all zeros: each block is "DC diff 0" then "EOB", two 0 bits.
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const scan = Buffer.alloc(Math.ceil((blocks * 2) / 8), 0);
  const paddingBits = scan.length * 8 - blocks * 2;
  if (paddingBits > 0) scan[scan.length - 1]! |= (1 << paddingBits) - 1;
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe0, jfif),
    segment(0xdb, quantisation),
    segment(0xc0, frame),
    segment(0xc4, oneCode(0)),
    segment(0xc4, oneCode(1)),
    segment(0xda, scanHeader),
    scan,
    Buffer.from([0xff, 0xd9]),
  ]);
}

/** Writes bits least significant first, as VP8L reads them. */
class BitWriter {
  readonly bytes: number[] = [];
  #bit = 0;
  write(value: number, bits: number): void {
    for (let i = 0; i < bits; i++) {
      if (this.#bit % 8 === 0) this.bytes.push(0);
      if ((value >> i) & 1) this.bytes[this.bytes.length - 1]! |= 1 << (this.#bit % 8);
      this.#bit++;
    }
  }
}

export function webp(width: number, height: number): Buffer {
  const bits = new BitWriter();
  bits.write(0x2f, 8); // VP8L signature
  bits.write(width - 1, 14);
  bits.write(height - 1, 14);
  bits.write(0, 1); // no alpha used
  bits.write(0, 3); // version 0
  bits.write(0, 1); // no transform
  bits.write(0, 1); // no colour cache
  bits.write(0, 1); // no meta prefix codes
  // Green, red, blue, alpha and distance: each a simple prefix code of one 8-bit symbol.
  for (const symbol of [0x80, 0x80, 0x80, 0xff, 0]) {
    bits.write(1, 1); // simple code
    bits.write(0, 1); // one symbol
    bits.write(1, 1); // an 8-bit symbol
    bits.write(symbol, 8);
  }
  const payload = Buffer.from(bits.bytes);
  const chunkHeader = Buffer.alloc(8);
  chunkHeader.write('VP8L', 0, 'latin1');
  chunkHeader.writeUInt32LE(payload.length, 4);
  const chunk = Buffer.concat([chunkHeader, payload, Buffer.alloc(payload.length % 2)]);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + chunk.length, 4);
  riff.write('WEBP', 8, 'latin1');
  return Buffer.concat([riff, chunk]);
}

/** The head of a QuickTime file (an `ftyp` box of brand `qt  `), padded to `size` bytes. */
export function mov(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32BE(20, 0);
  bytes.write('ftypqt  ', 4, 'latin1');
  bytes.write('qt  ', 16, 'latin1');
  return bytes;
}
