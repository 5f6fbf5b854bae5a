import type Stripe from 'stripe';
import { PAGE, StripeReader, type CreatedRange } from './reader.js';

/** One page of a list endpoint's objects created in a range, after `startingAfter` when given. */
export type ListCreated<T> = (created: CreatedRange, startingAfter: string | undefined) => Promise<Stripe.ApiList<T>>;

/** Receives each page as it arrives (the scan waits for it). */
export type OnPage<T> = (items: T[]) => void | Promise<void>;

export interface ScanOptions {
  /** Most slices per scan (each costs at most one partial page). */
  maxSlices: number;
  /**
   * Keep this many times the requests in flight that the rate allows over one round trip
   * (rate × first page's round-trip time), so that the scan is limited by the rate, not by latency.
   */
  inflightFactor: number;
}

export const DEFAULT_SCAN: ScanOptions = { maxSlices: 24, inflightFactor: 1.5 };

/**
 * How far under a whole number of pages a slice is sized: a slice that holds one object more than
 * its pages costs a whole request more, one that holds a few less costs nothing.
 */
const PAGE_MARGIN = 0.02;

/**
 * Lists every object of a `created` range, handing each page to `onPage` as it arrives. The first
 * page shows how dense the range is and how long a round trip takes; the rest of the range is then
 * cut once into time slices fetched side by side: as many as it takes to keep the endpoint's rate
 * busy (rate × round trip × inflightFactor, no more than there are pages), each sized from the first
 * page's density to hold a whole number of pages (a little under), so that a slice's last page is
 * nearly full rather than a wasted partial one. The rate limiter, not this function, sets the pace.
 * Slices are disjoint `[gte, lt)` ranges of whole seconds; the newest one reaches up to and
 * including the first page's last second and starts after that page's last object, so an object is
 * fetched exactly once even with many ties on `created`.
 */
export async function scanCreated<T extends { id: string; created: number }>(
  reader: StripeReader,
  what: string,
  endpoint: string,
  list: ListCreated<T>,
  range: CreatedRange,
  onPage: OnPage<T>,
  opts: ScanOptions = DEFAULT_SCAN,
  coverage: Coverage = new Coverage(),
): Promise<void> {
  coverage.start(range);
  try {
    const t0 = performance.now();
    const first = await reader.call(what, () => list(range, undefined), endpoint);
    StripeReader.checkPage(what, first);
    const roundTripS = (performance.now() - t0) / 1000;
    await onPage(first.data);
    const last = first.data[first.data.length - 1];
    if (!first.has_more || !last) return coverage.listedFirstPage(range.gte);
    // More objects may share the last second with the page's last one.
    coverage.listedFirstPage(last.created + 1);

    const slices = planSlices(first.data, range, reader.limiter?.rateFor(endpoint) ?? 25, roundTripS, opts);
    coverage.sliced(slices);
    // The newest slice holds the rest of the first page's last second: it starts after that page.
    await Promise.all(
      slices.map((r, i) =>
        pageThrough(reader, what, endpoint, list, r, onPage, i === 0 ? last.id : undefined, (from) =>
          coverage.listedSlice(i, from),
        ),
      ),
    );
  } finally {
    coverage.settle();
  }
}

/**
 * Lists every object of `range` side by side in the pieces that another scan, of another endpoint
 * over about the same times, cut its range into (`along`: the slices it sized from its own first
 * page; see piecesWithin for the ends), once that scan's first page has come. Both scans then
 * reach a given second at about the same time, so what one lists there can be matched with what
 * the other does as they go, instead of at the end; the sparser list keeps ahead.
 */
export async function scanAlong<T extends { id: string; created: number }>(
  reader: StripeReader,
  what: string,
  endpoint: string,
  list: ListCreated<T>,
  range: CreatedRange,
  onPage: OnPage<T>,
  along: Coverage,
  coverage: Coverage = new Coverage(),
): Promise<void> {
  coverage.start(range);
  try {
    // If that scan failed, the run fails with its error; this one has nothing to add.
    const alongPieces = await along.pieces.catch(() => null);
    if (alongPieces === null) return;
    const pieces = piecesWithin(range, alongPieces);
    coverage.sliced(pieces);
    await Promise.all(
      pieces.map((r, i) =>
        pageThrough(reader, what, endpoint, list, r, onPage, undefined, (from) => coverage.listedSlice(i, from)),
      ),
    );
  } finally {
    coverage.settle();
  }
}

/**
 * `pieces` (contiguous, disjoint) clipped to `range`, the newest stretched up to its top and the
 * oldest down to its bottom: as many pieces, no request more, and all of `range`.
 */
export function piecesWithin(range: CreatedRange, pieces: readonly CreatedRange[]): CreatedRange[] {
  const out: CreatedRange[] = [];
  for (const p of pieces) {
    const gte = Math.max(p.gte, range.gte);
    const lt = Math.min(p.lt, range.lt);
    if (gte < lt) out.push({ gte, lt });
  }
  if (out.length === 0) return [range];
  out.sort((a, b) => b.lt - a.lt);
  out[0] = { gte: out[0]!.gte, lt: range.lt };
  out[out.length - 1] = { gte: range.gte, lt: out[out.length - 1]!.lt };
  return out;
}

/** Pages through one `created` range, newest first, from after `startingAfter` when given. */
async function pageThrough<T extends { id: string; created: number }>(
  reader: StripeReader,
  what: string,
  endpoint: string,
  list: ListCreated<T>,
  r: CreatedRange,
  onPage: OnPage<T>,
  startingAfter?: string,
  /** Everything from this second up has been listed (a page's last second only with the next page). */
  listed: (from: number) => void = () => {},
): Promise<void> {
  let cursor = startingAfter;
  for (;;) {
    const page = await reader.call(what, () => list(r, cursor), endpoint);
    StripeReader.checkPage(what, page);
    if (page.data.length > 0) await onPage(page.data);
    const tail = page.data[page.data.length - 1];
    if (!page.has_more || !tail) return listed(r.gte);
    listed(tail.created + 1);
    cursor = tail.id;
  }
}

/**
 * How much of a scan's range has been listed so far: every object created in a second it
 * `covers` has been handed to `onPage` already (whatever exists there now and is listed at all).
 * Lists come newest first, so the first page covers the top of the range, and each slice covers a
 * growing part from its top down; a page's last second is covered only by the next page, since
 * more objects may share it. Lets a caller act on what the scan has ruled out before it ends.
 */
export class Coverage {
  private range: CreatedRange | null = null;
  /** Listed: `[firstFrom, range.lt)` by the first page. */
  private firstFrom = Infinity;
  /** The rest of the range, `[range.gte, firstFrom)`, cut into slices; each listed from `from` up. */
  private slices: { gte: number; lt: number; from: number }[] = [];
  /**
   * The pieces the scan cut its range into (the first page's part, then the slices), once it has:
   * for scanAlong. Rejected if the scan ends first (it failed).
   */
  readonly pieces: Promise<CreatedRange[]>;
  private cut!: { resolve: (pieces: CreatedRange[]) => void; reject: (err: Error) => void };

  constructor() {
    this.pieces = new Promise((resolve, reject) => (this.cut = { resolve, reject }));
    this.pieces.catch(() => {}); // nobody need ask
  }

  start(range: CreatedRange): void {
    this.range = range;
    this.firstFrom = range.lt;
    this.slices = [];
  }

  listedFirstPage(from: number): void {
    this.firstFrom = from;
    const range = this.range!;
    if (from <= range.gte) this.cut.resolve([range]);
  }

  sliced(slices: readonly CreatedRange[]): void {
    this.slices = slices.map((r) => ({ ...r, from: r.lt }));
    const top = this.firstFrom < this.range!.lt ? [{ gte: this.firstFrom, lt: this.range!.lt }] : [];
    this.cut.resolve([...top, ...slices]);
  }

  /** The scan is over: if it never cut its range, it failed. */
  settle(): void {
    this.cut.reject(new Error('the scan ended before it cut its range'));
  }

  listedSlice(i: number, from: number): void {
    const s = this.slices[i]!;
    s.from = Math.min(s.from, from);
  }

  /** Every object created in `[gte, lt)` that the scan lists has been listed. */
  covers(gte: number, lt: number): boolean {
    const r = this.range;
    if (r === null) return false;
    const a = Math.max(gte, r.gte);
    const b = Math.min(lt, this.firstFrom);
    // Nothing of it below the first page's part (above the range, nothing is ever listed).
    if (a >= b) return true;
    if (this.slices.length === 0) return false;
    return this.slices.every((s) => s.gte >= b || s.lt <= a || s.from <= Math.max(a, s.gte));
  }
}

/**
 * Cuts what the first page did not cover, `[range.gte, last.created + 1)`, into slices, newest
 * first. `firstPage` is the first page (newest first, has_more).
 */
export function planSlices(
  firstPage: readonly { created: number }[],
  range: CreatedRange,
  rate: number,
  roundTripS: number,
  opts: ScanOptions,
): CreatedRange[] {
  const newest = firstPage[0]!.created;
  const lastCreated = firstPage[firstPage.length - 1]!.created;
  const top = lastCreated + 1;
  const width = top - range.gte;
  // Objects a second, from the first page: n objects from its newest second to its last span
  // n - 1 gaps.
  const density =
    firstPage.length > 1
      ? (firstPage.length - 1) / Math.max(1, newest - lastCreated)
      : firstPage.length / Math.max(1, range.lt - lastCreated);
  const estimatedPages = (density * width) / PAGE;
  const wanted = Math.ceil(rate * roundTripS * opts.inflightFactor);
  const count = Math.max(1, Math.min(opts.maxSlices, wanted, Math.ceil(estimatedPages), width));
  // Whole pages a slice: the pages there are, shared out among `count` slices (rounded up: the
  // oldest slice takes what is left, one slice more at most); then how many seconds hold that many
  // objects at the first page's density.
  const pages = Math.max(1, Math.ceil(estimatedPages / count));
  let step = Math.floor((pages * PAGE * (1 - PAGE_MARGIN)) / density);
  if (!(step >= 1) || Math.ceil(width / step) > Math.max(count + 1, opts.maxSlices)) step = Math.ceil(width / count);
  const out: CreatedRange[] = [];
  for (let lt = top; lt > range.gte; lt -= step) out.push({ gte: Math.max(range.gte, lt - step), lt });
  return out;
}
