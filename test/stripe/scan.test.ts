import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { StripeReader, type CreatedRange } from '../../src/stripe/reader.js';
import { Coverage, DEFAULT_SCAN, piecesWithin, scanAlong, scanCreated } from '../../src/stripe/scan.js';

interface Obj {
  id: string;
  created: number;
}

/**
 * Requests answered in waves: all those in flight at once, then all those the answers led to, and
 * so on. The number of waves is the longest chain of requests one after another: what the wall
 * time of a scan is at a fixed round trip when the rate does not limit it.
 */
function waves() {
  const pending: (() => void)[] = [];
  let count = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      await new Promise((r) => setImmediate(r));
      if (pending.length === 0) continue;
      count++;
      for (const answer of pending.splice(0)) answer();
    }
  })();
  return {
    wait: () => new Promise<void>((r) => pending.push(r)),
    stop: async () => {
      on = false;
      await loop;
      return count;
    },
  };
}

/** Stripe's list over `objects`: newest first (ties in a fixed order), `created` filter, `starting_after`, 100 a page. */
function lister(objects: Obj[], wait: () => Promise<unknown> = () => new Promise((r) => setTimeout(r, 1))) {
  const sorted = [...objects].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  let requests = 0;
  /** Requests from the top of a range (a slice's first page): more than the first cut made means slices were split. */
  let fromTop = 0;
  const list = async (created: CreatedRange, startingAfter: string | undefined): Promise<Stripe.ApiList<Obj>> => {
    requests++;
    if (startingAfter === undefined) fromTop++;
    await wait();
    let from = 0;
    if (startingAfter !== undefined) {
      from = sorted.findIndex((o) => o.id === startingAfter) + 1;
      expect(from).toBeGreaterThan(0);
    }
    const matching = sorted.slice(from).filter((o) => o.created >= created.gte && o.created < created.lt);
    return { object: 'list', data: matching.slice(0, 100), has_more: matching.length > 100, url: '/v1/x' };
  };
  return { list, requests: () => requests, fromTop: () => fromTop };
}

/** As many slices as the bench's run makes (12 at 24/s and 300 ms): the round trip here is too short to ask for them. */
const SLICED = { ...DEFAULT_SCAN, maxSlices: 12, inflightFactor: 1e6 };

/**
 * Scans `objects` and, before each page is handed over, checks what the Coverage claims: every
 * object of a probe interval it says is covered has been seen. Probes: 400 equal parts of the
 * range, and each object's own second. Returns how many claims were made before the scan ended.
 */
async function scan(objects: Obj[], range: CreatedRange) {
  const w = waves();
  const { list, requests, fromTop } = lister(objects, w.wait);
  const seen = new Set<string>();
  const coverage = new Coverage();
  const step = Math.ceil((range.lt - range.gte) / 400);
  const probes: CreatedRange[] = [];
  for (let t = range.gte; t < range.lt; t += step) probes.push({ gte: t, lt: Math.min(range.lt, t + step) });
  for (const t of new Set(objects.map((o) => o.created))) probes.push({ gte: t, lt: t + 1 });
  const inRange = objects.filter((o) => o.created >= range.gte && o.created < range.lt);
  const members = probes.map((p) => inRange.filter((o) => o.created >= p.gte && o.created < p.lt).map((o) => o.id));
  let claims = 0;
  const check = () => {
    probes.forEach((p, i) => {
      if (!coverage.covers(p.gte, p.lt)) return;
      claims++;
      const missing = members[i]!.filter((id) => !seen.has(id));
      if (missing.length > 0) expect(missing, `[${p.gte}, ${p.lt}) covered`).toEqual([]);
    });
  };
  const order: string[] = [];
  await scanCreated(
    new StripeReader({} as Stripe),
    'list things',
    'things.list',
    list,
    range,
    (page) => {
      check();
      for (const o of page) {
        seen.add(o.id);
        order.push(o.id);
      }
    },
    SLICED,
    coverage,
  );
  expect(coverage.covers(range.gte - 10, range.lt + 10)).toBe(true);
  return { seen: order, requests: requests(), claims, fromTop: fromTop(), waves: await w.stop() };
}

function expectEachOnce(objects: Obj[], range: CreatedRange, seen: string[]) {
  const want = objects.filter((o) => o.created >= range.gte && o.created < range.lt).map((o) => o.id);
  expect(seen.length).toBe(want.length);
  expect(new Set(seen)).toEqual(new Set(want));
}

const probesCount = (objects: Obj[]) => 400 + new Set(objects.map((o) => o.created)).size;

describe('scanCreated', () => {
  const range = { gte: 1_000_000, lt: 1_432_000 };

  it('an even spread: every object once, and slices sized to whole pages waste few requests', async () => {
    const objects = Array.from({ length: 9_950 }, (_, i) => ({
      id: `o${i}`,
      created: range.lt - 30 - Math.floor(i * 43.2),
    }));
    const { seen, requests, claims } = await scan(objects, range);
    expectEachOnce(objects, range, seen);
    // 100 pages of objects; slices of equal width took a partial page more for nearly every slice (110).
    expect(requests).toBeLessThanOrEqual(103);
    // The coverage grew as pages came, not only at the end (each probe checked before each page).
    expect(claims).toBeGreaterThan(probesCount(objects) * 20);
  });

  it('ties on `created` across page and slice boundaries, the first page’s last second included', async () => {
    // Seven objects a second, so every page ends inside a second; and a burst of 250 in one second at the first page's end.
    const objects: Obj[] = [];
    for (let t = range.lt - 1; objects.length < 3_000; t -= 3)
      for (let k = 0; k < 7; k++) objects.push({ id: `t${t}_${k}`, created: t });
    const burst = objects[95]!.created;
    for (let k = 0; k < 250; k++) objects.push({ id: `b${k}`, created: burst });
    const { seen } = await scan(objects, range);
    expectEachOnce(objects, range, seen);
  });

  it('uneven density (the first page much denser or sparser than the rest), and everything in one second', async () => {
    const dense: Obj[] = Array.from({ length: 150 }, (_, i) => ({ id: `d${i}`, created: range.lt - 1 - i }));
    for (let i = 0; i < 2_000; i++) dense.push({ id: `s${i}`, created: range.gte + i * 200 });
    expectEachOnce(dense, range, (await scan(dense, range)).seen);

    const sparse: Obj[] = Array.from({ length: 101 }, (_, i) => ({ id: `p${i}`, created: range.lt - 1 - i * 2_000 }));
    for (let i = 0; i < 3_000; i++) sparse.push({ id: `q${i}`, created: range.gte + (i % 50) });
    expectEachOnce(sparse, range, (await scan(sparse, range)).seen);

    const oneSecond: Obj[] = Array.from({ length: 1_234 }, (_, i) => ({
      id: `z${String(i).padStart(4, '0')}`,
      created: range.gte + 5,
    }));
    expectEachOnce(oneSecond, range, (await scan(oneSecond, range)).seen);
  });

  it('objects only in the newest sixth of the range (audit: 30 days, payments of 5): slices split as others end, not one long chain', async () => {
    const objects = Array.from({ length: 9_950 }, (_, i) => ({
      id: `n${i}`,
      created: range.lt - 30 - Math.floor(i * 7.2),
    }));
    const { seen, requests, waves, claims } = await scan(objects, range);
    expectEachOnce(objects, range, seen);
    // 100 pages over 12 slices: about 10 waves at best. The slices sized from the first page fell
    // in the newest two and paged through 50 each, one after another (50 waves).
    expect(waves).toBeLessThanOrEqual(16);
    expect(requests).toBeLessThanOrEqual(125);
    expect(claims).toBeGreaterThan(probesCount(objects) * 10);
  });

  it('a dense day found below sparse slices is split as it is paged: each object once, ties across the splits included', async () => {
    // 500 objects spread thinly, then 12,000 on 300 seconds (40 a second) in the range's middle:
    // the first page sees only the thin part, so the cut does not foresee the dense part.
    const objects: Obj[] = Array.from({ length: 500 }, (_, i) => ({ id: `s${i}`, created: range.lt - 1 - i * 800 }));
    const mid = (range.gte + range.lt) / 2;
    for (let i = 0; i < 12_000; i++) objects.push({ id: `d${String(i).padStart(5, '0')}`, created: mid + (i % 300) });
    const { seen, requests, claims, fromTop } = await scan(objects, range);
    expectEachOnce(objects, range, seen);
    // Slices were split (each split's older part is paged from its top). Each split costs at most
    // its last page, partly filled: here a second holds 40 objects, so a split cannot size a
    // part to whole pages closer than that (test/stripe/shapes.test.ts pins the requests on a
    // realistic account).
    expect(fromTop).toBeGreaterThan(14);
    expect(requests).toBeLessThan(Math.ceil(12_500 / 100) + fromTop);
    expect(claims).toBeGreaterThan(0);
  });

  it('pages that take long to hand on (a busy sink) bring more slices at once: the pace is measured on every page', async () => {
    // A 10 ms round trip at 25/s asks for one slice; each page then takes 100 ms more to hand on,
    // so a slice's cycle is ~110 ms and keeping 25/s busy takes three or four.
    const objects = Array.from({ length: 3_000 }, (_, i) => ({
      id: `pi_3Pace${String(i).padStart(6, '0')}`,
      created: range.gte + Math.floor((i * (range.lt - range.gte)) / 3_000),
    }));
    const { list, requests, fromTop } = lister(objects, () => new Promise((r) => setTimeout(r, 10)));
    const seen: string[] = [];
    await scanCreated(
      new StripeReader({} as Stripe),
      'list things',
      'things.list',
      list,
      range,
      async (page) => {
        seen.push(...page.map((o) => o.id));
        await new Promise((r) => setTimeout(r, 100));
      },
      { ...DEFAULT_SCAN, maxSlices: 8 },
    );
    expectEachOnce(objects, range, seen);
    // The first page and the slices paged from their tops: more than the one the first round trip asked for.
    expect(fromTop()).toBeGreaterThanOrEqual(4);
    expect(requests()).toBeLessThanOrEqual(30 + fromTop());
  });

  it('Coverage: nothing before the first page, then only what was listed; a range outside the scan is covered', () => {
    const c = new Coverage();
    expect(c.covers(range.gte, range.gte + 1)).toBe(false);
    c.start(range);
    expect(c.covers(range.gte, range.lt)).toBe(false);
    expect(c.covers(range.lt, range.lt + 100)).toBe(true);
    expect(c.covers(range.gte - 100, range.gte)).toBe(true);
    c.listedFirstPage(range.lt - 1000);
    expect(c.covers(range.lt - 1000, range.lt + 5)).toBe(true);
    expect(c.covers(range.lt - 1001, range.lt)).toBe(false);
    c.sliced([
      { gte: range.lt - 2000, lt: range.lt - 1000 },
      { gte: range.gte, lt: range.lt - 2000 },
    ]);
    c.listedSlice(0, range.lt - 1500);
    expect(c.covers(range.lt - 1500, range.lt)).toBe(true);
    expect(c.covers(range.lt - 1501, range.lt)).toBe(false);
    // The older slice has listed nothing yet: its top is not covered, even next to a covered part.
    expect(c.covers(range.lt - 2001, range.lt - 1999)).toBe(false);
    c.listedSlice(1, range.gte);
    expect(c.covers(range.gte, range.lt - 2000)).toBe(true);
    expect(c.covers(range.gte, range.lt - 1999)).toBe(false);
    expect(c.covers(range.lt - 1600, range.lt - 1400)).toBe(false);
    c.listedSlice(0, range.lt - 2000);
    expect(c.covers(range.gte - 1, range.lt + 1)).toBe(true);
  });

  it('Coverage: a split slice covers its newer part as listed, its older part only once that is', () => {
    const c = new Coverage();
    c.start(range);
    c.listedFirstPage(range.lt - 1000);
    c.sliced([{ gte: range.gte, lt: range.lt - 1000 }]);
    c.listedSlice(0, range.lt - 1500);
    const older = c.split(0, range.lt - 1800);
    expect(older).toBe(1);
    expect(c.covers(range.lt - 1500, range.lt)).toBe(true);
    expect(c.covers(range.lt - 1800, range.lt)).toBe(false);
    c.listedSlice(0, range.lt - 1800);
    expect(c.covers(range.lt - 1800, range.lt)).toBe(true);
    expect(c.covers(range.lt - 1801, range.lt)).toBe(false);
    c.listedSlice(older, range.gte);
    expect(c.covers(range.gte, range.lt)).toBe(true);
  });

  it('scanAlong: another list, in the pieces the first scan cut, and beyond them: every object once', async () => {
    const intents = Array.from({ length: 6_000 }, (_, i) => ({
      id: `pi${i}`,
      created: range.lt - 30 - Math.floor(i * 70),
    }));
    const wider = { gte: range.gte - 86_400, lt: range.lt };
    // Invoice payments at the PaymentIntents' own seconds (ties with every slice boundary), some a
    // second apart, and a day of them below the first scan's range.
    const invoices: Obj[] = intents
      .filter((_, i) => i % 3 !== 0)
      .map((o, i) => ({ id: `in${i}`, created: o.created + (i % 7 === 0 ? 1 : 0) }));
    for (let i = 0; i < 500; i++) invoices.push({ id: `low${i}`, created: range.gte - 1 - i * 150 });
    const a = lister(intents);
    const b = lister(invoices);
    const coverage = new Coverage();
    const reader = new StripeReader({} as Stripe);
    const seen: string[] = [];
    let first: CreatedRange[] = [];
    await Promise.all([
      scanCreated(reader, 'list intents', 'a.list', a.list, range, () => {}, SLICED, coverage),
      scanAlong(
        reader,
        'list invoices',
        'b.list',
        b.list,
        wider,
        (page) => {
          for (const o of page) seen.push(o.id);
        },
        coverage,
      ),
      coverage.pieces.then((p) => (first = p)),
    ]);
    expect(first.length).toBeGreaterThan(5);
    expectEachOnce(invoices, wider, seen);
  });

  it('scanAlong: when the first scan fails before it cuts its range, the other adds no error of its own', async () => {
    const coverage = new Coverage();
    const reader = new StripeReader({} as Stripe);
    const failing = async (): Promise<Stripe.ApiList<Obj>> => {
      throw new Error('the first list failed');
    };
    const b = lister([{ id: 'x', created: range.gte + 1 }]);
    const seen: string[] = [];
    const along = scanAlong(
      reader,
      'list invoices',
      'b.list',
      b.list,
      range,
      (page) => void seen.push(...page.map((o) => o.id)),
      coverage,
    );
    await expect(
      scanCreated(reader, 'list intents', 'a.list', failing, range, () => {}, SLICED, coverage),
    ).rejects.toThrow('the first list failed');
    await expect(along).resolves.toBeUndefined();
    expect(b.requests()).toBe(0);
  });

  it('piecesWithin: the pieces clipped to the range, the outer ones stretched to its ends', () => {
    const pieces = [
      { gte: 500, lt: 1000 },
      { gte: 200, lt: 500 },
      { gte: 100, lt: 200 },
    ];
    expect(piecesWithin({ gte: 0, lt: 1200 }, pieces)).toEqual([
      { gte: 500, lt: 1200 },
      { gte: 200, lt: 500 },
      { gte: 0, lt: 200 },
    ]);
    expect(piecesWithin({ gte: 300, lt: 600 }, pieces)).toEqual([
      { gte: 500, lt: 600 },
      { gte: 300, lt: 500 },
    ]);
    expect(piecesWithin({ gte: 0, lt: 1200 }, [{ gte: 100, lt: 1000 }])).toEqual([{ gte: 0, lt: 1200 }]);
    expect(piecesWithin({ gte: 0, lt: 50 }, pieces)).toEqual([{ gte: 0, lt: 50 }]);
    expect(piecesWithin({ gte: 0, lt: 50 }, [])).toEqual([{ gte: 0, lt: 50 }]);
  });
});
