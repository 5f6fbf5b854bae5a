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
    const pager = (s: Running, startingAfter: string | undefined) =>
      pageThrough(reader, what, endpoint, list, s, onPage, startingAfter, (from) =>
        coverage.listedSlice(s.index, from),
      );
    const runner = new SliceRunner(pager, coverage, slices.length);
    // The newest slice holds the rest of the first page's last second: it starts after that page.
    slices.forEach((r, i) => runner.start(r, i, i === 0 ? last.id : undefined));
    await runner.done();
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
        pageThrough(reader, what, endpoint, list, running(r), onPage, undefined, (from) =>
          coverage.listedSlice(i, from),
        ),
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

/**
 * A slice being paged through: its range as asked of Stripe, the part of it it still lists
 * (`[floor, range.lt)`: the floor rises when the slice is split), how far down it has come (its
 * last page's last second) and how many objects it has read, from which the work left is estimated.
 */
interface Running {
  readonly index: number;
  readonly range: CreatedRange;
  floor: number;
  pos: number;
  seen: number;
}

const running = (range: CreatedRange, index = 0): Running => ({
  index,
  range,
  floor: range.gte,
  pos: range.lt,
  seen: 0,
});

/**
 * A slice is split only when it has at least this many pages left: a split costs about one request
 * more (part of a page the split slice reads past its new floor, or a partial last page).
 */
const MIN_SPLIT_PAGES = 4;

/**
 * Runs the slices of one scan side by side. The slices are sized from the first page's density,
 * which can be far off (a 30-day range whose objects are all in the last five days): most slices
 * then end at once while one or two page through nearly everything one request after another.
 * So each time a slice ends, the running slice with the most pages left (estimated from its own
 * density) may be split in two (see splitBusiest), keeping as many requests in flight.
 */
class SliceRunner {
  private readonly running = new Set<Running>();
  private readonly pagers: Promise<void>[] = [];

  constructor(
    private readonly pager: (s: Running, startingAfter: string | undefined) => Promise<void>,
    private readonly coverage: Coverage,
    /** The slices the scan began with: the requests in flight it wants. */
    private readonly slots: number,
  ) {}

  start(r: CreatedRange, index: number, startingAfter?: string): void {
    const s = running(r, index);
    this.running.add(s);
    this.pagers.push(
      this.pager(s, startingAfter).then(() => {
        this.running.delete(s);
        this.splitBusiest();
      }),
    );
  }

  /** Every slice, those split off included, is done (or one failed). */
  async done(): Promise<void> {
    for (let settled = 0; settled < this.pagers.length;) {
      const batch = this.pagers.slice(settled);
      settled = this.pagers.length;
      await Promise.all(batch);
    }
  }

  /**
   * Splits the slice with the most pages left when it has about twice its share of what all the
   * running slices have left (a long pole; slices about even are left to end together, a split
   * costing a request). The piece split off, the older part, is sized to whole pages (a little
   * under) at the slice's density, like planSlices' slices.
   */
  private splitBusiest(): void {
    let busiest: Running | null = null;
    let most = 0;
    let total = 0;
    for (const s of this.running) {
      const left = pagesLeft(s);
      total += left;
      if (left > most && s.pos - s.floor >= 2) [busiest, most] = [s, left];
    }
    if (!busiest || most < Math.max(MIN_SPLIT_PAGES, (2 * total) / this.slots)) return;
    const density = busiest.seen / Math.max(1, busiest.range.lt - busiest.pos);
    const seconds = Math.floor((Math.floor(most / 2) * PAGE * (1 - PAGE_MARGIN)) / density);
    const mid = busiest.floor + Math.min(busiest.pos - busiest.floor, Math.max(1, seconds));
    const piece = { gte: busiest.floor, lt: mid };
    busiest.floor = mid;
    this.start(piece, this.coverage.split(busiest.index, mid));
  }
}

/** The pages a running slice has left, at the density it has read so far (none before its first page). */
function pagesLeft(s: Running): number {
  if (s.seen === 0) return 0;
  return ((s.seen / Math.max(1, s.range.lt - s.pos)) * (s.pos - s.floor)) / PAGE;
}

/**
 * Pages through one `created` range, newest first, from after `startingAfter` when given, down
 * to the slice's floor. The request keeps the range it began with (a cursor is only good for the
 * list it came from); objects under a floor raised meanwhile are dropped, the slice split off
 * below lists them.
 */
async function pageThrough<T extends { id: string; created: number }>(
  reader: StripeReader,
  what: string,
  endpoint: string,
  list: ListCreated<T>,
  slice: Running,
  onPage: OnPage<T>,
  startingAfter?: string,
  /** Everything from this second up has been listed (a page's last second only with the next page). */
  listed: (from: number) => void = () => {},
): Promise<void> {
  let cursor = startingAfter;
  for (;;) {
    const page = await reader.call(what, () => list(slice.range, cursor), endpoint);
    StripeReader.checkPage(what, page);
    const tail = page.data[page.data.length - 1];
    // Read and recorded together, before onPage yields: a split meanwhile takes a floor at or
    // below this page's last second, under every object kept from it.
    const floor = slice.floor;
    if (tail) [slice.pos, slice.seen] = [tail.created, slice.seen + page.data.length];
    const kept = floor > slice.range.gte ? page.data.filter((o) => o.created >= floor) : page.data;
    if (kept.length > 0) await onPage(kept);
    if (!page.has_more || !tail || tail.created < slice.floor) return listed(slice.floor);
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

  /** Slice `i` now lists from `mid` up; the new slice below it, `[its old bottom, mid)`, is returned. */
  split(i: number, mid: number): number {
    const s = this.slices[i]!;
    this.slices.push({ gte: s.gte, lt: mid, from: mid });
    s.gte = mid;
    return this.slices.length - 1;
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
