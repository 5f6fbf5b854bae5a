/**
 * An append-only list of id strings (or nulls) kept outside the JavaScript heap: the characters in
 * one growable byte buffer (UTF-8; Stripe ids are ASCII), where each starts in a typed array, and,
 * once asked for (`indexOf`, `has`), an open-addressing hash index over them, also in a typed
 * array. Ids held as strings (and in a Set) would cost several times their length on the V8 heap,
 * and V8, which lets its heap grow to a multiple of what is live, would count them as live
 * (docs/performance.md).
 */
export class IdTable {
  /** A Buffer, not a bare Uint8Array: its write and toString are the fast paths for short ASCII strings. */
  private bytes: Buffer = Buffer.alloc(0);
  private used = 0;
  /** Where entry i starts in `bytes`; it ends where entry i + 1 starts (starts[count] = used). */
  private starts = new Uint32Array(1);
  /** One bit per entry: null. */
  private nulls = new Uint8Array(0);
  private count = 0;
  /** Open addressing: entry index + 1 per slot, 0 for empty; null until first looked up. */
  private slots: Int32Array | null = null;

  get length(): number {
    return this.count;
  }

  /** Appends an id (or null); returns its index. */
  push(id: string | null): number {
    const i = this.count;
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
    } else {
      this.reserve(id.length * 3);
      this.used += this.bytes.write(id, this.used, 'utf8');
    }
    this.count = i + 1;
    this.starts[i + 1] = this.used;
    if (this.slots !== null) this.index(i);
    return i;
  }

  /** The id at index i (a new string each time), or null. */
  get(i: number): string | null {
    if (i < 0 || i >= this.count) throw new RangeError(`no id at index ${i} of ${this.count}`);
    if (this.nulls[i >> 3]! & (1 << (i & 7))) return null;
    return this.bytes.toString('utf8', this.starts[i]!, this.starts[i + 1]!);
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
    for (let s = hashString(id) & mask; ; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === 0) return -1;
      if (this.equals(e - 1, id)) return e - 1;
    }
  }

  /** Compares entries i and j as `<` compares strings (neither may be null). */
  compare(i: number, j: number): number {
    const { bytes, starts } = this;
    const a = starts[i]!;
    const b = starts[j]!;
    const la = starts[i + 1]! - a;
    const lb = starts[j + 1]! - b;
    const n = Math.min(la, lb);
    for (let k = 0; k < n; k++) {
      const x = bytes[a + k]!;
      const y = bytes[b + k]!;
      if (x !== y) {
        if (x < 0x80 && y < 0x80) return x - y;
        // Beyond ASCII, UTF-8 byte order is not always UTF-16 order: compare the strings.
        const s = this.get(i)!;
        const t = this.get(j)!;
        return s < t ? -1 : s > t ? 1 : 0;
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
    const { bytes, starts, count } = this;
    if (count === 0) return new Float64Array(0);
    for (let i = 0; i < count; i++) if (this.nulls[i >> 3]! & (1 << (i & 7))) return null;
    for (let k = 0; k < this.used; k++) if (bytes[k]! > 0x7f) return null;
    // The bytes every entry starts with are skipped.
    let common = starts[1]! - starts[0]!;
    for (let i = 1; i < count && common > 0; i++) {
      const a = starts[i]!;
      let k = 0;
      while (k < common && a + k < starts[i + 1]! && bytes[a + k] === bytes[k]) k++;
      common = k;
    }
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const end = starts[i + 1]!;
      let v = 0;
      for (let k = starts[i]! + common, n = 0; n < 6; k++, n++) v = v * 256 + (k < end ? bytes[k]! : 0);
      out[i] = v;
    }
    return out;
  }

  private equals(i: number, id: string): boolean {
    if (this.nulls[i >> 3]! & (1 << (i & 7))) return false;
    const start = this.starts[i]!;
    const end = this.starts[i + 1]!;
    if (end - start !== id.length) {
      // Only ids with characters beyond ASCII take more bytes than characters.
      return end - start > id.length && this.bytes.toString('utf8', start, end) === id;
    }
    for (let k = 0; k < id.length; k++) {
      const c = id.charCodeAt(k);
      if (c > 0x7f) return this.bytes.toString('utf8', start, end) === id;
      if (this.bytes[start + k] !== c) return false;
    }
    return true;
  }

  private ensureIndex(): void {
    if (this.slots === null || this.count * 2 > this.slots.length) {
      let size = 1024;
      while (size < this.count * 2 + 2) size *= 2;
      this.slots = new Int32Array(size);
      for (let i = 0; i < this.count; i++) this.index(i);
    }
  }

  private index(i: number): void {
    if (this.count * 2 > this.slots!.length) {
      this.ensureIndex();
      return;
    }
    if (this.nulls[i >> 3]! & (1 << (i & 7))) return;
    const slots = this.slots!;
    const mask = slots.length - 1;
    const { bytes, starts } = this;
    const start = starts[i]!;
    const end = starts[i + 1]!;
    let s = hashBytes(bytes, start, end) & mask;
    for (; slots[s] !== 0; s = (s + 1) & mask) {
      // Keep the first index of an id (indexOf answers the first).
      const j = slots[s]! - 1;
      const a = starts[j]!;
      if (starts[j + 1]! - a !== end - start || this.nulls[j >> 3]! & (1 << (j & 7))) continue;
      let same = true;
      for (let k = 0; k < end - start && same; k++) same = bytes[a + k] === bytes[start + k];
      if (same) return;
    }
    slots[s] = i + 1;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.bytes.length) return;
    let size = Math.max(64 * 1024, this.bytes.length * 2);
    while (size < this.used + n) size *= 2;
    const bytes = Buffer.allocUnsafeSlow(size);
    this.bytes.copy(bytes, 0, 0, this.used);
    this.bytes = bytes;
  }
}

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
