/**
 * An append-only list of id strings (or nulls) kept outside the JavaScript heap: the characters in
 * byte chunks (UTF-8; Stripe ids are ASCII), where each starts in a typed array, and, once asked
 * for (`indexOf`, `has`), an open-addressing hash index over them, also in a typed array. Ids held
 * as strings (and in a Set) would cost several times their length on the V8 heap, and V8, which
 * lets its heap grow to a multiple of what is live, would count them as live (docs/performance.md).
 *
 * The bytes are in chunks, not in one buffer grown by doubling: a doubled buffer holds up to twice
 * what it needs, and while it is copied the old one is held too, three times in all.
 */
export class IdTable {
  /**
   * Chunk c holds the bytes at offsets c * chunkBytes onwards (a Buffer, not a bare Uint8Array: its
   * write and toString are the fast paths for short ASCII strings). The last chunk starts small
   * and doubles up to chunkBytes; an id longer than a chunk gets one of its own.
   */
  private readonly chunks: Buffer[] = [];
  /** Bytes used in each chunk. */
  private readonly fill: number[] = [];
  /** Offset of the next byte (of the chunk it is in, or at the start of one not made yet). */
  private used = 0;
  private readonly shift: number;
  private readonly chunkBytes: number;
  /** Offset of entry i; it ends where entry i + 1 starts, or where its chunk's bytes end (see end()). */
  private starts = new Uint32Array(1);
  /** One bit per entry: null. */
  private nulls = new Uint8Array(0);
  private count = 0;
  /**
   * Open addressing, null until first looked up; 0 for empty, else entry index + 1 in the bits under
   * the slot mask and, above them, the same bits of the entry's hash: a probe that meets another id
   * mostly tells it apart by those bits, without reading its bytes (a cache miss or two each).
   */
  private slots: Int32Array | null = null;

  /** `chunkBytes`: a power of two (a megabyte; smaller in tests). */
  constructor(opts: { chunkBytes?: number } = {}) {
    this.chunkBytes = opts.chunkBytes ?? 1 << 20;
    this.shift = Math.log2(this.chunkBytes);
    if (!Number.isInteger(this.shift) || this.shift < 4 || this.shift > 30)
      throw new RangeError(`chunkBytes must be a power of two from 16 to 2^30, not ${this.chunkBytes}`);
  }

  get length(): number {
    return this.count;
  }

  /** Bytes held for the ids (their chunks), not counting the index and the offsets. */
  get bytesHeld(): number {
    let n = 0;
    for (const c of this.chunks) if (c !== undefined) n += c.length;
    return n;
  }

  /** Appends an id (or null); returns its index. */
  push(id: string | null): number {
    const i = this.count;
    let hash = -1;
    if (i + 2 > this.starts.length) {
      const starts = new Uint32Array(Math.max(1024, this.starts.length * 2));
      starts.set(this.starts);
      this.starts = starts;
      const nulls = new Uint8Array(starts.length >> 3);
      nulls.set(this.nulls);
      this.nulls = nulls;
    }
    if (id === null) {
      this.nulls[i >> 3]! |= 1 << (i & 7);
    } else if (id.length > 0) {
      this.starts[i] = this.reserve(id.length * 3);
      const c = this.used >>> this.shift;
      const at = this.used - c * this.chunkBytes;
      const chunk = this.chunks[c]!;
      hash = copyAscii(chunk, at, id);
      const end = at + (hash >= 0 ? id.length : chunk.write(id, at, 'utf8'));
      this.fill[c] = end;
      // A chunk of its own (an id longer than a chunk) takes no other id: the next starts past it.
      this.used =
        c * this.chunkBytes + (end > this.chunkBytes ? Math.ceil(end / this.chunkBytes) * this.chunkBytes : end);
    }
    this.count = i + 1;
    this.starts[i + 1] = this.used;
    if (this.slots !== null) this.index(i, hash);
    return i;
  }

  /** The id at index i (a new string each time), or null. */
  get(i: number): string | null {
    if (i < 0 || i >= this.count) throw new RangeError(`no id at index ${i} of ${this.count}`);
    if (this.nulls[i >> 3]! & (1 << (i & 7))) return null;
    const s = this.starts[i]!;
    const n = this.end(i) - s;
    if (n === 0) return '';
    const a = this.local(s);
    return this.chunks[s >>> this.shift]!.toString('utf8', a, a + n);
  }

  /** Whether the table holds this id. */
  has(id: string): boolean {
    return this.indexOf(id) >= 0;
  }

  /** The first index holding this id, or -1. */
  indexOf(id: string): number {
    this.ensureIndex();
    const slots = this.slots!;
    const mask = slots.length - 1;
    const h = hashString(id);
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === 0) return -1;
      if ((e & ~mask) === (h & ~mask) && this.equals((e & mask) - 1, id)) return (e & mask) - 1;
    }
  }

  /** Compares entries i and j as `<` compares strings (neither may be null). */
  compare(i: number, j: number): number {
    const { starts, chunks, shift } = this;
    const si = starts[i]!;
    const sj = starts[j]!;
    const la = this.end(i) - si;
    const lb = this.end(j) - sj;
    const n = Math.min(la, lb);
    if (n > 0) {
      const x = chunks[si >>> shift]!;
      const y = chunks[sj >>> shift]!;
      const a = this.local(si);
      const b = this.local(sj);
      for (let k = 0; k < n; k++) {
        const u = x[a + k]!;
        const v = y[b + k]!;
        if (u !== v) {
          if (u < 0x80 && v < 0x80) return u - v;
          // Beyond ASCII, UTF-8 byte order is not always UTF-16 order: compare the strings.
          const s = this.get(i)!;
          const t = this.get(j)!;
          return s < t ? -1 : s > t ? 1 : 0;
        }
      }
    }
    return la - lb;
  }

  /**
   * For sorting the entries (none null) by compare() faster: per entry a number such that a smaller
   * number means a smaller entry (equal numbers say nothing). It is six bytes of the entry, from the
   * first where the entries differ, read as one big-endian integer (48 bits: exact in a double).
   * Null when an entry is null or not ASCII, where byte order is not always string order.
   */
  sortKeys(): Float64Array | null {
    const { starts, count } = this;
    if (count === 0) return new Float64Array(0);
    for (let i = 0; i < count; i++) if (this.nulls[i >> 3]! & (1 << (i & 7))) return null;
    for (const [c, chunk] of this.chunks.entries())
      if (chunk !== undefined) for (let k = 0; k < this.fill[c]!; k++) if (chunk[k]! > 0x7f) return null;
    // The bytes every entry starts with are skipped.
    const first = this.chunks[0];
    let common = this.end(0);
    for (let i = 1; i < count && common > 0; i++) {
      const x = this.chunks[starts[i]! >>> this.shift]!;
      const a = this.local(starts[i]!);
      const n = Math.min(common, this.end(i) - starts[i]!);
      let k = 0;
      while (k < n && x[a + k] === first![k]) k++;
      common = k;
    }
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const s = starts[i]!;
      const x = this.chunks[s >>> this.shift];
      const a = this.local(s);
      const n = this.end(i) - s;
      let v = 0;
      for (let k = common, m = 0; m < 6; k++, m++) v = v * 256 + (k < n ? x![a + k]! : 0);
      out[i] = v;
    }
    return out;
  }

  /** Where entry i ends: where the next starts, unless that one went on to a new chunk. */
  private end(i: number): number {
    const s = this.starts[i]!;
    const e = this.starts[i + 1]!;
    if (e === s) return s;
    return Math.min(e, s - this.local(s) + this.fill[s >>> this.shift]!);
  }

  /** An offset within its chunk. */
  private local(offset: number): number {
    return offset & (this.chunkBytes - 1);
  }

  private equals(i: number, id: string): boolean {
    if (this.nulls[i >> 3]! & (1 << (i & 7))) return false;
    const s = this.starts[i]!;
    const n = this.end(i) - s;
    if (n === 0) return id.length === 0;
    const bytes = this.chunks[s >>> this.shift]!;
    const start = this.local(s);
    if (n !== id.length) {
      // Only ids with characters beyond ASCII take more bytes than characters.
      return n > id.length && bytes.toString('utf8', start, start + n) === id;
    }
    for (let k = 0; k < id.length; k++) {
      const c = id.charCodeAt(k);
      if (c > 0x7f) return bytes.toString('utf8', start, start + n) === id;
      if (bytes[start + k] !== c) return false;
    }
    return true;
  }

  private ensureIndex(): void {
    if (this.slots === null || this.count * 2 > this.slots.length) {
      let size = 1024;
      while (size < this.count * 2 + 2) size *= 2;
      // The old index is dropped first: both at once would be held for the whole rebuild.
      this.slots = null;
      this.slots = new Int32Array(size);
      for (let i = 0; i < this.count; i++) this.index(i);
    }
  }

  /** `hash`: the entry's hash when its bytes were just hashed (copyAscii), else -1. */
  private index(i: number, hash = -1): void {
    if (this.count * 2 > this.slots!.length) {
      this.ensureIndex();
      return;
    }
    if (this.nulls[i >> 3]! & (1 << (i & 7))) return;
    const slots = this.slots!;
    const mask = slots.length - 1;
    const s0 = this.starts[i]!;
    const n = this.end(i) - s0;
    const bytes = this.chunks[s0 >>> this.shift];
    const start = this.local(s0);
    const h = hash >= 0 ? hash : n === 0 ? hashBytes(EMPTY, 0, 0) : hashBytes(bytes!, start, start + n);
    let s = h & mask;
    for (; slots[s] !== 0; s = (s + 1) & mask) {
      // Keep the first index of an id (indexOf answers the first).
      if ((slots[s]! & ~mask) !== (h & ~mask)) continue;
      const j = (slots[s]! & mask) - 1;
      const sj = this.starts[j]!;
      if (this.end(j) - sj !== n || this.nulls[j >> 3]! & (1 << (j & 7))) continue;
      const other = this.chunks[sj >>> this.shift];
      const a = this.local(sj);
      let same = true;
      for (let k = 0; k < n && same; k++) same = other![a + k] === bytes![start + k];
      if (same) return;
    }
    slots[s] = (h & ~mask) | (i + 1);
  }

  /**
   * Room for n more bytes in one chunk: in the last one (grown, up to chunkBytes), or in a new one
   * (of its own for an id longer than a chunk). Returns the offset the bytes go to.
   */
  private reserve(n: number): number {
    const size = this.chunkBytes;
    let c = this.used >>> this.shift;
    const at = this.used - c * size;
    const chunk = this.chunks[c];
    if (chunk !== undefined && at + n <= chunk.length) return this.used;
    if (chunk !== undefined && at + n <= size) {
      let grown = chunk.length * 2;
      while (grown < at + n) grown *= 2;
      const b = Buffer.allocUnsafeSlow(Math.min(size, grown));
      chunk.copy(b, 0, 0, at);
      this.chunks[c] = b;
      return this.used;
    }
    if (chunk !== undefined) c += Math.ceil(Math.max(at, 1) / size);
    if (c * size + n > 0xffffffff) throw new RangeError('an IdTable holds at most 4 GB of ids');
    const fresh = Buffer.allocUnsafeSlow(n > size ? n : Math.min(size, Math.max(64 * 1024, n)));
    this.chunks[c] = fresh;
    this.fill[c] = 0;
    // An id longer than a chunk takes the offsets of as many chunks as it spans: the next starts after it.
    this.used = c * size;
    return this.used;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * A set of ids kept outside the JavaScript heap, for what only asks `has`: an id added twice is
 * stored twice, which costs bytes but changes no answer.
 */
export class IdSet {
  private readonly table = new IdTable();

  add(id: string): void {
    this.table.push(id);
  }

  has(id: string): boolean {
    return this.table.has(id);
  }
}

const encoder = new TextEncoder();

/**
 * Copies an id's characters into `bytes` at `at` while they are ASCII, hashing them as hashBytes
 * does; returns the hash, or -1 at the first character beyond ASCII (the caller then writes the id
 * as UTF-8). For ids this short a loop costs less than Buffer.write, and the index needs the hash.
 */
function copyAscii(bytes: Buffer, at: number, id: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < id.length; k++) {
    const c = id.charCodeAt(k);
    if (c > 0x7f) return -1;
    bytes[at + k] = c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a over the UTF-8 bytes. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let k = start; k < end; k++) h = Math.imul(h ^ bytes[k]!, 0x01000193);
  return h >>> 0;
}

/** hashBytes of the string's UTF-8 encoding. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c > 0x7f) {
      const b = encoder.encode(s);
      return hashBytes(b, 0, b.length);
    }
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}
