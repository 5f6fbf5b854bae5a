import type Stripe from 'stripe';
import { PAGE, StripeReader, type CreatedRange } from './reader.js';

/** One page of a list endpoint's objects created in a range, after `startingAfter` when given. */
export type ListCreated<T> = (created: CreatedRange, startingAfter: string | undefined) => Promise<Stripe.ApiList<T>>;

/** Receives each page as it arrives (the scan waits for it). */
export type OnPage<T> = (items: T[]) => void | Promise<void>;

export interface ScanOptions {
  /** Most slices paged at once per scan, splits included (each costs at most one partial page). */
  maxSlices: number;
  /**
   * Keep this many times the requests in flight that the rate allows over one round trip
   * (rate × a page's cycle, measured as the scan goes: see Pace), so that the scan is limited by
   * the rate, not by latency.
   */
  inflightFactor: number;
}

export const DEFAULT_SCAN: ScanOptions = { maxSlices: 24, inflightFactor: 1.1 };

/** How much a page's round trip weighs in the running average the scan paces itself by. */
const ROUND_TRIP_WEIGHT = 0.2;

/**
 * How far under a whole number of pages a slice is sized: a slice that holds one object more than
 * its pages costs a whole request more, one that holds a few less costs nothing.
 */
const PAGE_MARGIN = 0.02;

/** An idle worker takes part of a slice only when the slice has at least this many pages left by its density. */
const MIN_SPLIT_PAGES = 2;

type Listed = { id: string; created: number };

/**
 * Lists every object of a `created` range, handing each page to `onPage` as it arrives. The first
 * page shows how dense the range is and how long a round trip takes; the rest of the range is then
 * cut into time slices paged side by side, as many at once as it takes to keep the endpoint's
 * rate busy (rate × round trip × inflightFactor, the round trips measured as it goes), each slice
 * sized from the first page's density to
 * hold a whole number of pages (a little under), so that a slice's last page is nearly full rather
 * than a wasted partial one. Counts are rarely even, so the slices are not fixed: a worker whose
 * slice is done takes the older half of the slice with the most pages left (see SlicedScan), and
 * the rate stays busy whatever the spread of `created`. The rate limiter, not this function, sets
 * the pace. Slices are disjoint `[gte, lt)` ranges of whole seconds; the newest one reaches up to
 * and including the first page's last second and starts after that page's last object, so an
 * object is fetched exactly once even with many ties on `created`.
 */
export async function scanCreated<T extends Listed>(
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

    // Slices paged at once that keep the rate busy over a round trip (each slice costs about half a
    // request: its last page); the scan then sizes this from the pages' own round trips.
    const pace = new Pace(reader, endpoint, opts, roundTripS * 1000);
    const slices = planSlices(first.data, range, pace.enough());
    const scan = new SlicedScan({ reader, what, endpoint, list, onPage, coverage }, pace);
    // The newest slice holds the rest of the first page's last second: it starts after that page.
    scan.add(coverage.sliced(slices), { cursor: last.id, top: last.created, density: densityOf(first.data) });
    await scan.run(opts.maxSlices);
  } finally {
    coverage.settle();
  }
}

/**
 * Lists every object of `range` side by side in the pieces that another scan, of another endpoint
 * over about the same times, cut its range into (`along`: the slices it sized from its own first
 * page; see piecesWithin for the ends), once that scan's first page has come. Both scans then
 * reach a given second at about the same time, so what one lists there can be matched with what
 * the other does as they go, instead of at the end; the sparser list keeps ahead. A piece that
 * turns out to hold more is split like scanCreated's slices.
 */
export async function scanAlong<T extends Listed>(
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
    const scan = new SlicedScan({ reader, what, endpoint, list, onPage, coverage }, null, pieces.length);
    scan.add(coverage.sliced(pieces));
    await scan.run(pieces.length);
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

/** Objects a second shown by a page (newest first): n objects from its first second to its last span n - 1 gaps. */
function densityOf(page: readonly { created: number }[]): number {
  if (page.length < 2) return 0;
  return (page.length - 1) / Math.max(1, page[0]!.created - page[page.length - 1]!.created);
}

/**
 * A slice being paged. What is left of it is `[range.gte, top]`: `top` is the second of the last
 * object listed (`cursor`), of which only the objects after the cursor are left; with no cursor,
 * `top` is `range.lt - 1`. `range.gte` rises when an idle worker takes the older part.
 */
interface Slice {
  /** Its index in the Coverage. */
  index: number;
  range: CreatedRange;
  cursor: string | undefined;
  top: number;
  /** Objects a second by its last page; 0 until a page with more after it has come. */
  density: number;
  done: boolean;
}

interface SliceSource<T> {
  reader: StripeReader;
  what: string;
  endpoint: string;
  list: ListCreated<T>;
  onPage: OnPage<T>;
  coverage: Coverage;
}

/**
 * How many slices a scan pages at once: enough to keep the endpoint's rate busy over a page's
 * cycle (rate × cycle × inflightFactor). A cycle is a page's round trip from the moment it leaves
 * the rate limiter to the moment the scan may send the slice's next request (the page handed on
 * included); it is measured on every page, since it grows when the machine or Stripe is busy, and
 * a slice fewer than needed leaves the rate idle for the whole sweep.
 */
class Pace {
  private cycleMs: number;

  constructor(
    private readonly reader: StripeReader,
    private readonly endpoint: string,
    private readonly opts: ScanOptions,
    firstRoundTripMs: number,
  ) {
    this.cycleMs = firstRoundTripMs;
  }

  observe(cycleMs: number): void {
    this.cycleMs += ROUND_TRIP_WEIGHT * (cycleMs - this.cycleMs);
  }

  enough(): number {
    const rate = this.reader.limiter?.rateFor(this.endpoint) ?? 25;
    const n = Math.ceil((rate * this.cycleMs * this.opts.inflightFactor) / 1000);
    return Math.max(1, Math.min(this.opts.maxSlices, n));
  }
}

/**
 * Slices paged by a fixed number of workers. While fewer slices than the rate needs are being
 * paged, an idle worker takes part of the slice with the most pages left by its density (work
 * stealing), splitting it at a second at or below its cursor: the slice keeps the newer half,
 * sized to whole pages from its cursor (a little under), and the worker lists the older half from
 * its top. A split costs no request but a partly filled last page where the estimate misses, so
 * the requests stay close to the pages there are, however unevenly the objects are spread.
 */
class SlicedScan<T extends Listed> {
  private readonly slices: Slice[] = [];
  private readonly waiting: Slice[] = [];
  private paging = 0;
  private failed = false;
  /** Idle workers, woken when a slice has shown more of itself or has ended. */
  private idle: (() => void)[] = [];

  /** Paced by `pace`, or with a fixed number of slices at once (`fixed`) without one. */
  constructor(
    private readonly src: SliceSource<T>,
    private readonly pace: Pace | null,
    private readonly fixed = 1,
  ) {}

  private enough(): number {
    return this.pace ? this.pace.enough() : this.fixed;
  }

  /** Slices (by their Coverage indexes and ranges) to be paged from their tops; the first from `first`'s cursor. */
  add(
    slices: readonly { index: number; range: CreatedRange }[],
    first?: Pick<Slice, 'cursor' | 'top' | 'density'>,
  ): void {
    slices.forEach(({ index, range }, i) => {
      const start = i === 0 && first ? first : { cursor: undefined, top: range.lt - 1, density: 0 };
      const s: Slice = { index, range: { ...range }, ...start, done: false };
      this.slices.push(s);
      this.waiting.push(s);
    });
  }

  /**
   * Pages the slices with `workers` at most; a slice is split only while fewer than enough are
   * being paged (enough to keep the rate busy: each split costs about half a request).
   */
  async run(workers: number): Promise<void> {
    const n = Math.max(workers, this.waiting.length);
    await Promise.all(Array.from({ length: n }, () => this.worker()));
  }

  private async worker(): Promise<void> {
    while (!this.failed) {
      const slice = this.waiting.shift() ?? this.split();
      if (slice) {
        this.paging += 1;
        try {
          await this.pageThrough(slice);
        } catch (e) {
          this.failed = true;
          throw e;
        } finally {
          this.paging -= 1;
          this.wake();
        }
      } else if (this.paging === 0) return;
      else await new Promise<void>((resolve) => this.idle.push(resolve));
    }
  }

  private wake(): void {
    const idle = this.idle;
    this.idle = [];
    for (const resolve of idle) resolve();
  }

  /** Pages through one slice, newest first, from after its cursor, as far down as its `gte` is when each page comes. */
  private async pageThrough(s: Slice): Promise<void> {
    const { reader, what, endpoint, list, onPage, coverage } = this.src;
    for (;;) {
      // The range is read when the request goes out (after the rate limiter's wait): a split made
      // meanwhile already narrows it.
      let sent = 0;
      const page = await reader.call(
        what,
        () => {
          sent = performance.now();
          return list({ ...s.range }, s.cursor);
        },
        endpoint,
      );
      StripeReader.checkPage(what, page);
      // A split made while the page was on its way: what is older than the slice is now the new
      // part's to list, and this slice has reached its end.
      const gte = s.range.gte;
      let kept = page.data.findIndex((o) => o.created < gte);
      if (kept < 0) kept = page.data.length;
      const items = kept === page.data.length ? page.data : page.data.slice(0, kept);
      const tail = items[items.length - 1];
      s.done = !page.has_more || kept < page.data.length || !tail;
      if (tail) {
        s.cursor = tail.id;
        s.top = tail.created;
        s.density = densityOf(items);
        await onPage(items);
      }
      this.pace?.observe(performance.now() - sent);
      if (s.done) return coverage.listedSlice(s.index, s.range.gte);
      // Everything from this second up has been listed (a page's last second only with the next page).
      coverage.listedSlice(s.index, s.top + 1);
      this.wake();
    }
  }

  /**
   * While fewer slices than `enough` are being paged, splits the slice with the most pages left by
   * its density (MIN_SPLIT_PAGES at least). Returns its older part.
   */
  private split(): Slice | null {
    let victim: Slice | null = null;
    let most = 0;
    for (const s of this.slices) {
      if (s.done || s.density === 0) continue;
      const pages = (s.density * (s.top + 1 - s.range.gte)) / PAGE;
      if (pages > most) [victim, most] = [s, pages];
    }
    if (victim === null || most < MIN_SPLIT_PAGES || this.paging >= this.enough()) return null;
    // The slice keeps the pages nearest its cursor (its next request may be on its way already),
    // a few objects under whole pages.
    const keep = Math.floor(most / 2);
    const width = Math.max(1, Math.floor((keep * PAGE - PAGE * PAGE_MARGIN) / victim.density));
    // At or below the cursor's second: what is left of that second stays with the cursor.
    const at = victim.top + 1 - width;
    if (at <= victim.range.gte) return null;
    const older: Slice = {
      index: this.src.coverage.split(victim.index, at),
      range: { gte: victim.range.gte, lt: at },
      cursor: undefined,
      top: at - 1,
      // Until its own first page shows its density, the older part is taken to be as dense: so
      // the next idle worker splits whichever half is the larger.
      density: victim.density,
      done: false,
    };
    victim.range = { gte: at, lt: victim.range.lt };
    this.slices.push(older);
    return older;
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

  /** The scan cut the rest of its range into `slices`: returns them with their indexes (for listedSlice and split). */
  sliced(slices: readonly CreatedRange[]): { index: number; range: CreatedRange }[] {
    this.slices = slices.map((r) => ({ ...r, from: r.lt }));
    const top = this.firstFrom < this.range!.lt ? [{ gte: this.firstFrom, lt: this.range!.lt }] : [];
    this.cut.resolve([...top, ...slices]);
    return slices.map((range, index) => ({ index, range }));
  }

  /** Slice `i` was split at `at`: its part below `at` is a new slice (returned: its index), nothing of it listed yet. */
  split(i: number, at: number): number {
    const s = this.slices[i]!;
    this.slices.push({ gte: s.gte, lt: at, from: at });
    s.gte = at;
    return this.slices.length - 1;
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
 * Cuts what the first page did not cover, `[range.gte, last.created + 1)`, into at most `workers`
 * slices, newest first. `firstPage` is the first page (newest first, has_more).
 */
export function planSlices(
  firstPage: readonly { created: number }[],
  range: CreatedRange,
  workers: number,
): CreatedRange[] {
  const lastCreated = firstPage[firstPage.length - 1]!.created;
  const top = lastCreated + 1;
  const width = top - range.gte;
  const density = densityOf(firstPage) || firstPage.length / Math.max(1, range.lt - lastCreated);
  const estimatedPages = (density * width) / PAGE;
  const count = Math.max(1, Math.min(workers, Math.ceil(estimatedPages), width));
  // Whole pages a slice: the pages there are, shared out among `count` slices (rounded up: the
  // oldest slice takes what is left, one slice more at most); then how many seconds hold that many
  // objects at the first page's density.
  const pages = Math.max(1, Math.ceil(estimatedPages / count));
  let step = Math.floor((pages * PAGE * (1 - PAGE_MARGIN)) / density);
  if (!(step >= 1) || Math.ceil(width / step) > count + 1) step = Math.ceil(width / count);
  const out: CreatedRange[] = [];
  for (let lt = top; lt > range.gte; lt -= step) out.push({ gte: Math.max(range.gte, lt - step), lt });
  return out;
}
