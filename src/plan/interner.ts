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

/**
 * Numbers (amounts in minor units, credits, times in seconds): four bytes each while every one is
 * a 32-bit integer, widened to doubles once one is not. NaN stands for null.
 */
export type Numbers = Int32Array | Float64Array;

/** NaN in an Int32Array (never a value there: one that is widens the array). */
const NAN_INT = -0x80000000;

/** Sets `a[i] = v`, widening the array when `v` does not fit; returns the array to keep. */
export function putNumber(a: Numbers, i: number, v: number): Numbers {
  if (a instanceof Float64Array) {
    a[i] = v;
    return a;
  }
  if (Number.isNaN(v)) a[i] = NAN_INT;
  else if (Number.isInteger(v) && v > NAN_INT && v <= 0x7fffffff && !Object.is(v, -0)) a[i] = v;
  else {
    const b = new Float64Array(a.length);
    for (let k = 0; k < a.length; k++) b[k] = a[k] === NAN_INT ? NaN : a[k]!;
    b[i] = v;
    return b;
  }
  return a;
}

export function getNumber(a: Numbers, i: number): number {
  const v = a[i]!;
  return v === NAN_INT && a instanceof Int32Array ? NaN : v;
}

/** The same numbers in an array of `capacity` (at least their length), of the same width. */
export function growNumbers(a: Numbers, capacity: number): Numbers {
  const b = new (a.constructor as new (n: number) => Numbers)(capacity);
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
