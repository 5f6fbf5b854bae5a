/** Splits a list into consecutive parts of at most `size` (one query or statement per part). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/*
 * Why lists are cut to a few sizes. On SQLite every distinct SQL text is a prepared statement, and
 * one for a thousand rows or ids holds much native memory. The statements a run no longer uses are
 * freed only when V8 collects their JavaScript objects, which with a small heap can be long after:
 * lists with a new length in every batch (the payments of a batch split between credited and not,
 * the last chunk short) would prepare a statement per batch, and memory would grow while writing.
 * Cut to `max` and powers of two, a statement has one of about a dozen texts, each prepared once.
 */

/** The size a list of `n` takes: `max`, or the smallest power of two not less than `n` (below `max`). */
export function ladderSize(n: number, max: number): number {
  let s = 1;
  while (s < n && s < max) s *= 2;
  return Math.min(s, max);
}

/**
 * `list` padded with its last element to ladderSize: for an IN list, where an element twice
 * changes nothing. The list is changed in place and returned. An empty list stays empty.
 */
export function padToLadder<T>(list: T[], max: number): T[] {
  const n = ladderSize(list.length, max);
  if (list.length === 0) return list;
  while (list.length < n) list.push(list[list.length - 1]!);
  return list;
}

/** Parts of at most `max` (see chunks), each padded to a ladder size (see padToLadder): for lookups. */
export function paddedChunks<T>(items: readonly T[], max: number): T[][] {
  return chunks(items, max).map((part) => padToLadder(part, max));
}

/**
 * Parts of `max`, then of powers of two below it, largest first: for inserts, which cannot be
 * padded. A part of 909 rows goes as 512 + 256 + 128 + 8 + 4 + 1.
 */
export function ladderChunks<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let i = 0;
  while (items.length - i >= max) {
    out.push(items.slice(i, i + max));
    i += max;
  }
  let s = 1;
  while (s * 2 <= items.length - i) s *= 2;
  for (; i < items.length; s /= 2) {
    if (items.length - i >= s) {
      out.push(items.slice(i, i + s));
      i += s;
    }
  }
  return out;
}
