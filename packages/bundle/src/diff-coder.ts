/**
 * A context-mixing coder for bsdiff's difference bytes, with the old bytes they apply to as context.
 *
 * In a rebuilt executable the difference is zero almost everywhere, and non-zero where an address or
 * offset moved: inside call/jump operands, pointer tables, relocations. Where those are, and what the
 * delta is, follows from the old code itself (the opcode before an operand, the same delta four bytes
 * back). A general compressor sees the difference bytes alone; this coder predicts each one from the old
 * bytes under it and the differences just before, mixing six models per decision (logistic mixing, as
 * in lpaq), and codes it with a binary arithmetic coder. On esbuild 0.28.1 -> 0.28.2 the difference
 * stream is 226 KB against zstd -19's 368 KB and xz -9e's 321 KB.
 *
 * Both directions run the same model code, so encoder and decoder stay in step byte for byte.
 */
// Indexes into typed arrays below are in range by construction (masked hashes, bytes shifted into
// 16-bit contexts); `?? 0` on each would cost time on every byte of a 100 MB executable.
/* eslint-disable @typescript-eslint/no-non-null-assertion */

/** stretch(p) = ln(p / (1 - p)), times 256, for 12-bit probabilities. */
const STRETCH = new Int16Array(4096);
for (let i = 0; i < 4096; i++) {
  const p = (i + 0.5) / 4096;
  STRETCH[i] = Math.round(Math.log(p / (1 - p)) * 256);
}
/** squash(x / 256) = 1 / (1 + e^-x) as a 16-bit probability, for x in [-4096, 4096). */
const SQUASH = new Uint16Array(8192);
for (let i = 0; i < 8192; i++) SQUASH[i] = Math.min(65535, Math.max(1, Math.round(65536 / (1 + Math.exp(-(i - 4096) / 256)))));
/** Adaptation rate of a context seen n times: fast at first, settling at 1/40. */
const RATE = new Float32Array(256);
for (let n = 0; n < 256; n++) RATE[n] = 1 / Math.min(n + 1.5, 40);
const COUNT_LIMIT = 255;
/** Models mixed per decision. */
const INPUTS = 6;

/** Logistic mixing of the models' predictions, one weight set per small context. */
class Mixer {
  private readonly w: Float32Array;
  private readonly st = new Int32Array(INPUTS);
  private pr = 32768;
  private base = 0;
  constructor(
    sets: number,
    private readonly rate: number,
  ) {
    this.w = new Float32Array(sets * INPUTS).fill(0.3);
  }
  mix(ps: Int32Array, set: number): number {
    this.base = set * INPUTS;
    let dot = 0;
    for (let i = 0; i < INPUTS; i++) {
      const s = STRETCH[ps[i]! >>> 4]!;
      this.st[i] = s;
      dot += this.w[this.base + i]! * s;
    }
    const x = Math.max(-4095, Math.min(4095, Math.round(dot)));
    this.pr = SQUASH[x + 4096]!;
    return this.pr;
  }
  update(bit: number): void {
    const err = ((bit << 16) - this.pr) * this.rate;
    for (let i = 0; i < INPUTS; i++) this.w[this.base + i]! += err * this.st[i]!;
  }
}

/** A carry-less binary arithmetic coder (32-bit, as in lpaq), encoding or decoding. */
class ArithmeticCoder {
  private x1 = 0;
  private x2 = 0xffffffff;
  private x = 0;
  private at = 0;
  private buf: Uint8Array;
  private length = 0;
  readonly decoding: boolean;

  constructor(input?: Uint8Array) {
    this.decoding = input !== undefined;
    this.buf = input ?? new Uint8Array(1 << 16);
    if (input !== undefined) for (let i = 0; i < 4; i++) this.x = ((this.x << 8) | (input[this.at++] ?? 0)) >>> 0;
  }

  /** Codes `bit` (encoding) or returns the next bit (decoding); `p` = P(1) in 16 bits. */
  bit(p: number, bit: number): number {
    const q = p < 1 ? 1 : p;
    const xmid = this.x1 + Math.floor(((this.x2 - this.x1) * q) / 65536);
    const b = this.decoding ? (this.x <= xmid ? 1 : 0) : bit;
    if (b) this.x2 = xmid;
    else this.x1 = xmid + 1;
    while (((this.x1 ^ this.x2) & 0xff000000) === 0) {
      if (this.decoding) this.x = ((this.x << 8) | (this.buf[this.at++] ?? 0)) >>> 0;
      else this.push(this.x2 >>> 24);
      this.x1 = (this.x1 << 8) >>> 0;
      this.x2 = ((this.x2 << 8) | 255) >>> 0;
    }
    return b;
  }

  private push(byte: number): void {
    if (this.length === this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = byte;
  }

  finish(): Buffer {
    for (let i = 0; i < 4; i++) {
      this.push(this.x1 >>> 24);
      this.x1 = (this.x1 << 8) >>> 0;
    }
    return Buffer.from(this.buf.buffer, 0, this.length);
  }
}

/** Sizes (log2) of the six zero models' tables, then the six value models'. */
const ZERO_BITS = [16, 12, 20, 12, 16, 16];
const VALUE_BITS = [16, 16, 22, 16, 22, 16];

/** Offsets of each model's table in one flat array: one typed array is faster to index than six objects. */
function offsets(bits: readonly number[]): Int32Array {
  const out = new Int32Array(bits.length + 1);
  for (let i = 0; i < bits.length; i++) out[i + 1] = out[i]! + 2 ** bits[i]!;
  return out;
}

/** The model: shared by encoder and decoder, fed the same bytes in the same order. */
class DifferenceModel {
  private readonly zeroAt = offsets(ZERO_BITS);
  private readonly valueAt = offsets(VALUE_BITS);
  // Adaptive bit probabilities (16-bit) and how often each context was seen, all models in one table.
  private readonly zp = new Uint16Array(this.zeroAt[INPUTS]!).fill(32768);
  private readonly zn = new Uint8Array(this.zeroAt[INPUTS]!);
  private readonly vp = new Uint16Array(this.valueAt[INPUTS]!).fill(32768);
  private readonly vn = new Uint8Array(this.valueAt[INPUTS]!);
  private readonly zeroMixer = new Mixer(64, 0.02 / (65536 * 256));
  private readonly valueMixer = new Mixer(512, 0.015 / (65536 * 256));
  private readonly ps = new Int32Array(INPUTS);
  private readonly idx = new Int32Array(INPUTS);
  // The last four differences, the last two old bytes, and the zeros since the last non-zero difference.
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;
  private d4 = 0;
  private o1 = 0;
  private o2 = 0;
  private run = 0;

  constructor(private readonly coder: ArithmeticCoder) {}

  /** Codes differences [from, to): encoding reads them from `diff`, decoding writes them there. */
  code(old: Uint8Array, diff: Uint8Array, from: number, to: number): void {
    for (let k = from; k < to; k++) diff[k] = this.byte(old[k]!, diff[k]!);
  }

  private byte(o: number, value: number): number {
    const { coder, zp, zn, ps, idx, zeroAt } = this;
    // Is it zero? Contexts: the old bytes, which of the last four differences were non-zero, the run
    // of zeros, and the differences one and four bytes back (a moved 32-bit operand).
    const run = this.run < 16 ? this.run : 16 + Math.min(15, 31 - Math.clz32(this.run));
    const { d1, d4, o1 } = this;
    const recent = (d1 ? 1 : 0) | (this.d2 ? 2 : 0) | (this.d3 ? 4 : 0) | (d4 ? 8 : 0);
    idx[0] = zeroAt[0]! + ((o << 8) | o1);
    idx[1] = zeroAt[1]! + ((recent << 8) | o);
    idx[2] = zeroAt[2]! + (Math.imul((o << 16) | (o1 << 8) | this.o2, 0x9e3779b1) >>> 12);
    idx[3] = zeroAt[3]! + ((Math.min(run, 15) << 8) | o);
    idx[4] = zeroAt[4]! + ((d1 << 8) | d4);
    idx[5] = zeroAt[5]! + ((run << 8) | (d4 === 0 ? 0 : 128 | (d4 & 127)));
    for (let i = 0; i < INPUTS; i++) ps[i] = zp[idx[i]!]!;
    const nonZero = coder.bit(this.zeroMixer.mix(ps, run * 2 + (d1 ? 1 : 0)), value !== 0 ? 1 : 0);
    this.zeroMixer.update(nonZero);
    learn(zp, zn, idx, nonZero);

    let d = 0;
    if (nonZero) {
      // Which value? Bit by bit, most significant first, `c` holding the bits so far behind a leading 1.
      const { vp, vn, valueAt } = this;
      let c = 1;
      for (let bit = 7; bit >= 0; bit--) {
        idx[0] = valueAt[0]! + ((c << 8) | o);
        idx[1] = valueAt[1]! + ((c << 8) | d1);
        idx[2] = valueAt[2]! + (Math.imul((c << 16) | (o << 8) | o1, 0x9e3779b1) >>> 10);
        idx[3] = valueAt[3]! + ((c << 8) | d4);
        idx[4] = valueAt[4]! + (Math.imul((c << 16) | (o << 8) | d1, 0x85ebca6b) >>> 10);
        idx[5] = valueAt[5]! + ((c << 8) | this.d2);
        for (let i = 0; i < INPUTS; i++) ps[i] = vp[idx[i]!]!;
        const b = coder.bit(this.valueMixer.mix(ps, c * 2 + (d1 ? 1 : 0)), (value >> bit) & 1);
        this.valueMixer.update(b);
        learn(vp, vn, idx, b);
        c = (c << 1) | b;
      }
      d = c & 255;
      this.run = 0;
    } else {
      this.run++;
    }
    this.d4 = this.d3;
    this.d3 = this.d2;
    this.d2 = d1;
    this.d1 = d;
    this.o2 = o1;
    this.o1 = o;
    return d;
  }
}

/** Moves the probabilities at `idx` towards `bit`, faster for contexts seen less often. */
function learn(p: Uint16Array, n: Uint8Array, idx: Int32Array, bit: number): void {
  const target = bit ? 65535 : 0;
  for (let i = 0; i < INPUTS; i++) {
    const j = idx[i]!;
    const seen = n[j]!;
    const q = p[j]!;
    p[j] = q + (target - q) * RATE[seen]!;
    if (seen < COUNT_LIMIT) n[j] = seen + 1;
  }
}

/** Codes difference bytes; `old[i]` is the old byte `diff[i]` is added to. */
export function encodeDifference(diff: Uint8Array, old: Uint8Array): Buffer {
  const coder = new ArithmeticCoder();
  new DifferenceModel(coder).code(old, diff, 0, diff.length);
  return coder.finish();
}

/** Decodes difference bytes chunk by chunk, given the old bytes each chunk applies to. */
export class DifferenceDecoder {
  private readonly model: DifferenceModel;
  constructor(packed: Uint8Array) {
    this.model = new DifferenceModel(new ArithmeticCoder(packed));
  }
  /** The next `old.length` difference bytes. A damaged stream decodes to wrong bytes, never fails. */
  decode(old: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(old.length);
    this.model.code(old, out, 0, old.length);
    return out;
  }
}
