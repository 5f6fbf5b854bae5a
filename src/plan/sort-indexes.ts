/**
 * Sorts an array of indexes in place by `cmp`, allocating nothing but a small stack. Not
 * TypedArray.prototype.sort: given a comparator, V8 copies the array into two arrays of its own on
 * the heap (about 16 bytes an element, 16 MB for a million payments) for its merge sort, which is
 * most of what writing a large plan adds to the peak. Not stable: `cmp` should tell apart every two
 * indexes whose order matters.
 */
export function sortIndexes(a: Uint32Array, cmp: (x: number, y: number) => number): void {
  const stack: number[] = [0, a.length - 1];
  while (stack.length > 0) {
    let hi = stack.pop()!;
    let lo = stack.pop()!;
    while (hi - lo > 16) {
      const [i, j] = partition(a, lo, hi, cmp);
      // The smaller side first, the larger kept for later: the stack stays shallow.
      if (j - lo < hi - i) {
        stack.push(i, hi);
        hi = j;
      } else {
        stack.push(lo, j);
        lo = i;
      }
    }
    insertionSort(a, lo, hi, cmp);
  }
}

/** Hoare's partition of a[lo..hi] around the median of its first, middle and last: a[lo..j] <= pivot <= a[i..hi]. */
function partition(a: Uint32Array, lo: number, hi: number, cmp: (x: number, y: number) => number): [number, number] {
  const mid = (lo + hi) >>> 1;
  if (cmp(a[mid]!, a[lo]!) < 0) swap(a, mid, lo);
  if (cmp(a[hi]!, a[lo]!) < 0) swap(a, hi, lo);
  if (cmp(a[hi]!, a[mid]!) < 0) swap(a, hi, mid);
  const pivot = a[mid]!;
  let i = lo;
  let j = hi;
  while (i <= j) {
    while (cmp(a[i]!, pivot) < 0) i++;
    while (cmp(a[j]!, pivot) > 0) j--;
    if (i <= j) {
      swap(a, i, j);
      i++;
      j--;
    }
  }
  return [i, j];
}

function insertionSort(a: Uint32Array, lo: number, hi: number, cmp: (x: number, y: number) => number): void {
  for (let k = lo + 1; k <= hi; k++) {
    const v = a[k]!;
    let m = k - 1;
    for (; m >= lo && cmp(a[m]!, v) > 0; m--) a[m + 1] = a[m]!;
    a[m + 1] = v;
  }
}

function swap(a: Uint32Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
