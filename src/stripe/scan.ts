import type Stripe from 'stripe';
import { PAGE, StripeReader } from './reader.js';

export interface CreatedRange {
  gte: number;
  lt: number;
}

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
 * Lists every object of a `created` range, handing each page to `onPage` as it arrives. The first
 * page shows how dense the range is and how long a round trip takes; the rest of the range is then
 * cut once into as many time slices as it takes to keep the endpoint's rate busy (rate × round
 * trip × inflightFactor, no more than there are pages), fetched side by side: the rate limiter, not
 * this function, sets the pace. Slices are disjoint `[gte, lt)` ranges of whole seconds, and the
 * first page's last second is finished with `starting_after` inside that second only, so an object
 * is fetched exactly once even with many ties on `created`.
 */
export async function scanCreated<T extends { id: string; created: number }>(
  reader: StripeReader,
  what: string,
  endpoint: string,
  list: (created: CreatedRange, startingAfter: string | undefined) => Promise<Stripe.ApiList<T>>,
  range: CreatedRange,
  onPage: (items: T[]) => void | Promise<void>,
  opts: ScanOptions = DEFAULT_SCAN,
): Promise<void> {
  const t0 = performance.now();
  const first = await reader.call(what, () => list(range, undefined), endpoint);
  StripeReader.checkPage(what, first);
  const roundTripS = (performance.now() - t0) / 1000;
  await onPage(first.data);
  const last = first.data[first.data.length - 1];
  if (!first.has_more || !last) return;

  const pageThrough = async (r: CreatedRange, startingAfter?: string) => {
    let cursor = startingAfter;
    for (;;) {
      const page = await reader.call(what, () => list(r, cursor), endpoint);
      StripeReader.checkPage(what, page);
      if (page.data.length > 0) await onPage(page.data);
      const tail = page.data[page.data.length - 1];
      if (!page.has_more || !tail) return;
      cursor = tail.id;
    }
  };

  const tasks: Promise<void>[] = [pageThrough({ gte: last.created, lt: last.created + 1 }, last.id)];
  const rest: CreatedRange = { gte: range.gte, lt: last.created };
  if (rest.lt > rest.gte) {
    const seen = Math.max(1, range.lt - last.created);
    const estimatedPages = ((first.data.length / seen) * (rest.lt - rest.gte)) / PAGE;
    const rate = reader.limiter?.rateFor(endpoint) ?? 25;
    const wanted = Math.ceil(rate * roundTripS * opts.inflightFactor);
    const slices = Math.max(1, Math.min(opts.maxSlices, wanted, Math.ceil(estimatedPages), rest.lt - rest.gte));
    const width = (rest.lt - rest.gte) / slices;
    for (let i = 0; i < slices; i++) {
      const gte = rest.gte + Math.round(i * width);
      const lt = i === slices - 1 ? rest.lt : rest.gte + Math.round((i + 1) * width);
      if (lt > gte) tasks.push(pageThrough({ gte, lt }));
    }
  }
  await Promise.all(tasks);
}
