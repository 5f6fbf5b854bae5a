/**
 * Indexes into a table of distinct values: one byte each while every index fits, widened to two
 * and then four bytes when one does not (most tables hold a handful of values; users can be many).
 */
export type Codes = Uint8Array | Uint16Array | Uint32Array;

/** Sets `a[i] = v`, widening the array when `v` does not fit; returns the array to keep. */
export function putCode(a: Codes, i: number, v: number): Codes {
  let b = a;
  if (v > 0xffff && !(a instanceof Uint32Array)) b = new Uint32Array(a.length);
  else if (v > 0xff && a instanceof Uint8Array) b = new Uint16Array(a.length);
  if (b !== a) b.set(a);
  b[i] = v;
  return b;
}

/** The same codes in an array of `capacity` (at least their length), of the same width. */
export function growCodes(a: Codes, capacity: number): Codes {
  const b = new (a.constructor as new (n: number) => Codes)(capacity);
  b.set(a);
  return b;
}

/** A table of distinct values: each stored once, referred to by its index; 0 stands for null. */
export class Interner<T> {
  private readonly index = new Map<string, number>();
  /** Values that have an `apartKeyOf` key, by that key (it need not differ from other values' keys). */
  private readonly apart = new Map<string, number>();
  private readonly values: (T | null)[] = [null];

  constructor(
    private readonly keyOf: (v: T) => string,
    /** What is kept of a new value (a copy, for a value its owner might change). */
    private readonly keep: (v: T) => T = (v) => v,
    /** A key for values looked up in a table of their own (cheaper to make than keyOf's), or null. */
    private readonly apartKeyOf: (v: T) => string | null = () => null,
  ) {}

  id(v: T | null): number {
    if (v === null) return 0;
    let k = this.apartKeyOf(v);
    const index = k === null ? this.index : this.apart;
    k ??= this.keyOf(v);
    let i = index.get(k);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(this.keep(v));
      index.set(k, i);
    }
    return i;
  }

  value(i: number): T | null {
    return this.values[i] ?? null;
  }
}
