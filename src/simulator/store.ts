// In-memory store of Stripe-shaped objects for the simulator.
//
// Objects of each type are kept in a per-type array sorted newest first
// (created desc, then insertion sequence desc), which is a strict total order.
// Lists find their window with binary searches over that array; equality
// filters use lazily built secondary indexes whose buckets keep the same order.
import { randomBytes } from 'node:crypto';
import {
  Reversals,
  type Dispute,
  type DisputeOptions,
  type DisputePlan,
  type Refund,
  type RefundOptions,
  type RefundPlan,
} from './reversals.js';

export type Metadata = Record<string, string>;

/**
 * JSON read by field name: the simulator stores Stripe objects of a dozen shapes (and query
 * parameters of any nesting) and reads their fields as Stripe's own JSON is read. One alias says
 * so once, instead of a cast at every read.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type LooseJson = any;

export interface Customer {
  id: string;
  object: 'customer';
  address: null;
  balance: number;
  created: number;
  currency: string | null;
  delinquent: boolean;
  description: string | null;
  email: string | null;
  livemode: boolean;
  metadata: Metadata;
  name: string | null;
  phone: string | null;
}

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  canceled_at: number | null;
  cancellation_reason: string | null;
  capture_method: string;
  created: number;
  currency: string;
  customer: string | Customer | null;
  description: string | null;
  latest_charge: string | Charge | null;
  livemode: boolean;
  metadata: Metadata;
  payment_method: string | null;
  payment_method_types: string[];
  receipt_email: string | null;
  status: string;
}

export interface Charge {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  balance_transaction: string | null;
  captured: boolean;
  created: number;
  currency: string;
  customer: string | Customer | null;
  description: string | null;
  disputed: boolean;
  livemode: boolean;
  metadata: Metadata;
  paid: boolean;
  payment_intent: string | PaymentIntent | null;
  receipt_email: string | null;
  refunded: boolean;
  status: string;
}

export interface CustomerDetails {
  address: null;
  email: string | null;
  name: string | null;
  phone: string | null;
  tax_exempt: string;
  tax_ids: unknown[];
}

export interface CheckoutSession {
  id: string;
  object: 'checkout.session';
  amount_subtotal: number | null;
  amount_total: number | null;
  client_reference_id: string | null;
  created: number;
  currency: string | null;
  customer: string | Customer | null;
  customer_details: CustomerDetails | null;
  customer_email: string | null;
  expires_at: number;
  invoice: string | null;
  livemode: boolean;
  metadata: Metadata;
  mode: 'payment' | 'subscription' | 'setup';
  payment_intent: string | PaymentIntent | null;
  payment_link: string | null;
  payment_status: 'paid' | 'unpaid' | 'no_payment_required';
  setup_intent: string | null;
  status: 'open' | 'complete' | 'expired';
  subscription: string | null;
  url: string | null;
}

export interface Product {
  id: string;
  object: 'product';
  active: boolean;
  created: number;
  livemode: boolean;
  metadata: Metadata;
  name: string;
}

export interface Price {
  id: string;
  object: 'price';
  active: boolean;
  created: number;
  currency: string;
  livemode: boolean;
  metadata: Metadata;
  product: string | Product;
  type: 'one_time';
  unit_amount: number;
}

export interface LineItem {
  id: string;
  object: 'item';
  amount_discount: number;
  amount_subtotal: number;
  amount_tax: number;
  amount_total: number;
  currency: string;
  description: string;
  price: Price;
  quantity: number;
}

export interface Invoice {
  id: string;
  object: 'invoice';
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  created: number;
  currency: string;
  customer: string | Customer | null;
  livemode: boolean;
  metadata: Metadata;
  status: 'paid' | 'open';
  status_transitions: { finalized_at: number | null; paid_at: number | null };
}

export interface InvoicePayment {
  id: string;
  object: 'invoice_payment';
  amount_paid: number | null;
  amount_requested: number;
  created: number;
  currency: string;
  invoice: string | Invoice;
  is_default: boolean;
  livemode: boolean;
  payment: { type: 'payment_intent'; payment_intent: string | PaymentIntent };
  status: 'paid' | 'open' | 'canceled';
  status_transitions: { canceled_at: number | null; paid_at: number | null };
}

/** Stripe API version stamped on events. */
export const EVENT_API_VERSION = '2026-10-28.endive';
/** Like Stripe, events older than this (relative to the store's now()) are not served. */
export const EVENT_RETENTION_SECONDS = 30 * 86400;

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  /** `object` is a deep JSON copy of the object when the event happened. */
  data: { object: LooseJson; previous_attributes?: Record<string, unknown> };
  livemode: boolean;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

/** Object types held in the store, by their `object` field. */
export type ObjectType =
  | 'event'
  | 'customer'
  | 'payment_intent'
  | 'charge'
  | 'checkout.session'
  | 'invoice'
  | 'invoice_payment'
  | 'price'
  | 'product'
  | 'refund'
  | 'dispute';

export const OBJECT_TYPES: readonly ObjectType[] = [
  'event',
  'customer',
  'payment_intent',
  'charge',
  'checkout.session',
  'invoice',
  'invoice_payment',
  'price',
  'product',
  'refund',
  'dispute',
];

// ---------------------------------------------------------------------------
// builder params

export interface CustomerParams {
  id?: string;
  email?: string | null;
  name?: string | null;
  created?: number;
  metadata?: Metadata;
  livemode?: boolean;
}

export interface LineItemParams {
  price: string;
  quantity: number;
  unitAmount?: number;
}

export interface CheckoutPaymentParams {
  id?: string;
  paymentIntentId?: string;
  /** Session created (unix seconds). */
  created: number;
  /** PaymentIntent created; default created + 60. */
  paidAt?: number;
  mode?: 'payment' | 'subscription' | 'setup';
  status?: 'complete' | 'open' | 'expired';
  paymentStatus?: 'paid' | 'unpaid' | 'no_payment_required';
  piStatus?: string;
  amount?: number;
  currency?: string;
  clientReferenceId?: string | null;
  metadata?: Metadata;
  piMetadata?: Metadata;
  customer?: string | null;
  email?: string | null;
  customerEmail?: string | null;
  name?: string | null;
  receiptEmail?: string | null;
  lineItems?: LineItemParams[];
  /** One refund of this much, at now() (but not before the payment). */
  refundedAmount?: number;
  /** Refunds and a dispute of the payment, each at its own time (see RefundPlan, DisputePlan). */
  refunds?: RefundPlan[];
  dispute?: DisputePlan;
  livemode?: boolean;
  /**
   * Checkout's `invoice_creation`: an invoice for the payment, with an InvoicePayment naming its
   * PaymentIntent (a credit purchase all the same: the session says what it is).
   */
  invoice?: boolean;
}

export interface CheckoutPaymentResult {
  session: CheckoutSession;
  paymentIntent: PaymentIntent | null;
  charge: Charge | null;
}

export interface PaymentIntentParams {
  id?: string;
  created: number;
  status?: string;
  amount?: number;
  amountReceived?: number;
  currency?: string;
  metadata?: Metadata;
  customer?: string | null;
  receiptEmail?: string | null;
  refundedAmount?: number;
  refunds?: RefundPlan[];
  dispute?: DisputePlan;
  livemode?: boolean;
  /** Also create a paid invoice + invoice_payment linking this PaymentIntent. */
  invoice?: boolean;
}

export interface PaymentIntentResult {
  paymentIntent: PaymentIntent;
  charge: Charge | null;
  invoicePayment: InvoicePayment | null;
}

export interface Fixture {
  customers?: CustomerParams[];
  checkoutPayments?: CheckoutPaymentParams[];
  paymentIntents?: PaymentIntentParams[];
}

export interface StoreOptions {
  livemode?: boolean;
  now?: () => number;
}

// ---------------------------------------------------------------------------
// ordering, collections, paging

/** A stored object with its insertion sequence number. */
export interface Entry<T = LooseJson> {
  obj: T;
  seq: number;
  type: ObjectType;
}

/** Position key of an object in list order. */
export interface OrderKey {
  created: number;
  seq: number;
}

/** a before b in list order (newest first)? */
function before(aCreated: number, aSeq: number, bCreated: number, bSeq: number): boolean {
  return aCreated > bCreated || (aCreated === bCreated && aSeq > bSeq);
}

function compareEntries(a: Entry, b: Entry): number {
  const ca = a.obj.created as number;
  const cb = b.obj.created as number;
  if (ca !== cb) return cb - ca;
  return b.seq - a.seq;
}

/** First index in [lo, hi) where fn is true; fn must be monotone (false..., true...). */
function firstTrue(arr: Entry[], lo: number, hi: number, fn: (e: Entry) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (fn(arr[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface CreatedFilter {
  eq?: number;
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

export interface PageQuery {
  created?: CreatedFilter;
  /** Remaining filters, applied to each object in the window. */
  pred?: (obj: LooseJson) => boolean;
  limit: number;
  /** Items strictly after this position. */
  startingAfter?: OrderKey;
  /** The `limit` items immediately before this position. */
  endingBefore?: OrderKey;
}

export interface Page {
  data: LooseJson[];
  hasMore: boolean;
  /** Order key of the last returned item (for search tokens). */
  last: OrderKey | null;
}

/** The [start, end) range of `base` allowed by the created filter and the cursors. */
function windowOf(base: Entry[], q: PageQuery): [number, number] {
  let start = 0;
  let end = base.length;
  const c = q.created;
  if (c) {
    // created values are integers: turn every bound into an inclusive one
    let upper = Infinity; // created <= upper
    let lower = -Infinity; // created >= lower
    if (c.eq !== undefined) {
      upper = Math.min(upper, c.eq);
      lower = Math.max(lower, c.eq);
    }
    if (c.lte !== undefined) upper = Math.min(upper, Math.floor(c.lte));
    if (c.lt !== undefined) upper = Math.min(upper, Math.ceil(c.lt) - 1);
    if (c.gte !== undefined) lower = Math.max(lower, Math.ceil(c.gte));
    if (c.gt !== undefined) lower = Math.max(lower, Math.floor(c.gt) + 1);
    if (upper !== Infinity) start = firstTrue(base, 0, base.length, (e) => e.obj.created <= upper);
    if (lower !== -Infinity) end = firstTrue(base, start, base.length, (e) => e.obj.created < lower);
    if (end < start) end = start;
  }
  const sa = q.startingAfter;
  if (sa) {
    start = Math.max(
      start,
      firstTrue(base, 0, base.length, (e) => before(sa.created, sa.seq, e.obj.created, e.seq)),
    );
  }
  const eb = q.endingBefore;
  if (eb) {
    end = Math.min(
      end,
      firstTrue(base, 0, base.length, (e) => !before(e.obj.created, e.seq, eb.created, eb.seq)),
    );
  }
  return [start, end];
}

function toPage(out: Entry[], hasMore: boolean): Page {
  const lastEntry = out[out.length - 1];
  return {
    data: out.map((e) => e.obj),
    hasMore,
    last: lastEntry ? { created: lastEntry.obj.created, seq: lastEntry.seq } : null,
  };
}

/** Pages over `base`, which must be sorted in list order. */
export function pageOver(base: Entry[], q: PageQuery): Page {
  const [start, end] = windowOf(base, q);
  const eb = q.endingBefore;
  const pred = q.pred;
  const out: Entry[] = [];
  let hasMore = false;
  if (eb) {
    for (let i = end - 1; i >= start; i--) {
      const e = base[i]!;
      if (pred && !pred(e.obj)) continue;
      if (out.length === q.limit) {
        hasMore = true;
        break;
      }
      out.push(e);
    }
    out.reverse();
  } else {
    for (let i = start; i < end; i++) {
      const e = base[i]!;
      if (pred && !pred(e.obj)) continue;
      if (out.length === q.limit) {
        hasMore = true;
        break;
      }
      out.push(e);
    }
  }
  return toPage(out, hasMore);
}

/**
 * Pages over the union of several disjoint bases (e.g. buckets of an index), each sorted in
 * list order: a k-way merge of their windows, O(k log n + k * limit).
 */
export function pageOverMany(bases: Entry[][], q: PageQuery): Page {
  if (bases.length === 1) return pageOver(bases[0]!, q);
  const lo: number[] = [];
  const hi: number[] = [];
  for (const b of bases) {
    const [start, end] = windowOf(b, q);
    lo.push(start);
    hi.push(Math.max(start, end));
  }
  const pred = q.pred;
  const out: Entry[] = [];
  let hasMore = false;
  const backwards = q.endingBefore !== undefined;
  for (;;) {
    // forwards: the head that comes first in list order; backwards: the tail that comes last
    let pick = -1;
    let best: Entry | undefined;
    for (let k = 0; k < bases.length; k++) {
      if (lo[k]! >= hi[k]!) continue;
      const e = bases[k]![backwards ? hi[k]! - 1 : lo[k]!]!;
      if (
        !best ||
        (backwards
          ? before(best.obj.created, best.seq, e.obj.created, e.seq)
          : before(e.obj.created, e.seq, best.obj.created, best.seq))
      ) {
        best = e;
        pick = k;
      }
    }
    if (!best) break;
    if (backwards) hi[pick]!--;
    else lo[pick]!++;
    if (pred && !pred(best.obj)) continue;
    if (out.length === q.limit) {
      hasMore = true;
      break;
    }
    out.push(best);
  }
  if (backwards) out.reverse();
  return toPage(out, hasMore);
}

type KeyFn = (obj: LooseJson) => string | null | undefined;

class Collection {
  private entries: Entry[] = [];
  private dirty = false;
  private version = 0;
  private indexes = new Map<string, { version: number; map: Map<string, Entry[]> }>();

  get size(): number {
    return this.entries.length;
  }

  add(e: Entry): void {
    const last = this.entries[this.entries.length - 1];
    if (last && !before(last.obj.created, last.seq, e.obj.created, e.seq)) this.dirty = true;
    this.entries.push(e);
    this.version++;
  }

  remove(e: Entry): void {
    this.entries = this.entries.filter((x) => x !== e);
    this.version++;
  }

  /** Call after an object of this collection changed. */
  touched(orderChanged: boolean): void {
    if (orderChanged) this.dirty = true;
    this.version++;
  }

  sorted(): Entry[] {
    if (this.dirty) {
      this.entries.sort(compareEntries);
      this.dirty = false;
    }
    return this.entries;
  }

  /** Buckets of entries by key, each bucket in list order. */
  index(name: string, keyFn: KeyFn): Map<string, Entry[]> {
    const cached = this.indexes.get(name);
    if (cached && cached.version === this.version && !this.dirty) return cached.map;
    const map = new Map<string, Entry[]>();
    for (const e of this.sorted()) {
      const k = keyFn(e.obj);
      if (k === null || k === undefined) continue;
      let bucket = map.get(k);
      if (!bucket) map.set(k, (bucket = []));
      bucket.push(e);
    }
    this.indexes.set(name, { version: this.version, map });
    return map;
  }
}

// ---------------------------------------------------------------------------
// ids

const ALNUM = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'latin1');
let pool = Buffer.alloc(0);
let poolPos = 0;

/** prefix + n random alphanumeric characters, built as one flat string (not a rope). */
function randomId(prefix: string, n: number): string {
  if (poolPos + n > pool.length) {
    pool = randomBytes(Math.max(8192, n));
    poolPos = 0;
  }
  const out = Buffer.allocUnsafe(prefix.length + n);
  out.write(prefix, 0, 'latin1');
  for (let i = prefix.length; i < out.length; i++) out[i] = ALNUM[pool[poolPos++]! % 62]!;
  return out.toString('latin1');
}

/** A deep copy with JSON semantics (what JSON.parse(JSON.stringify(v)) gives), without the round trip through text. */
function jsonCopy(v: unknown): LooseJson {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    return v;
  }
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      out[i] = x === undefined || typeof x === 'function' || typeof x === 'symbol' ? null : jsonCopy(x);
    }
    return out;
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.parse(JSON.stringify(v));
  const out: Record<string, unknown> = {};
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    out[k] = jsonCopy(x);
  }
  return out;
}

function pushTo(map: Map<string, string[]>, key: string, value: string): void {
  const l = map.get(key);
  if (l) l.push(value);
  else map.set(key, [value]);
}

export function idOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string') return (v as { id: string }).id;
  return null;
}

// ---------------------------------------------------------------------------
// the store

const SUCCEEDED = 'succeeded';

export class SimulatorStore {
  readonly livemode: boolean;
  readonly now: () => number;
  private seq = 0;
  private readonly byId = new Map<string, Entry>();
  private readonly collections = new Map<ObjectType, Collection>();
  private readonly lineItems = new Map<string, LineItem[]>();
  /** PaymentIntent id -> ids of the sessions / invoice payments that own it. */
  private readonly sessionsByPi = new Map<string, string[]>();
  private readonly invoicePaymentsByPi = new Map<string, string[]>();
  private readonly reversals = new Reversals({
    now: () => this.now(),
    time: (t) => this.time(t),
    mustGet: (id, type) => this.mustGet(id, type),
    insert: (type, obj) => this.insert(type, obj),
    emit: (type, obj, created, previous, livemode) => void this.emit(type, obj, created, previous, livemode),
    newId: (explicit, prefix, n) => this.newId(explicit, prefix, n),
  });

  constructor(opts: StoreOptions = {}) {
    this.livemode = opts.livemode ?? false;
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    for (const t of OBJECT_TYPES) this.collections.set(t, new Collection());
  }

  // ----- generic access

  /** Any object by id (the live stored object). */
  get(id: string): LooseJson | undefined {
    return this.byId.get(id)?.obj;
  }

  /** The stored entry (object, type, sequence) by id. */
  entry(id: string): Entry | undefined {
    return this.byId.get(id);
  }

  /** Objects of one type in list order (newest first). Do not mutate. */
  sorted(type: ObjectType): Entry[] {
    return this.col(type).sorted();
  }

  /** Secondary index of one type: key -> entries in list order. */
  index(type: ObjectType, name: string, keyFn: KeyFn): Map<string, Entry[]> {
    return this.col(type).index(name, keyFn);
  }

  /** Shallow merge of `patch` into the object. */
  update(id: string, patch: Record<string, unknown>): void {
    const e = this.byId.get(id);
    if (!e) throw new Error(`No such object: ${id}`);
    if ('id' in patch && patch.id !== id) throw new Error('Cannot change an object id');
    Object.assign(e.obj, patch);
    this.col(e.type).touched('created' in patch);
    // keep the PaymentIntent -> owner links used by settle()
    const piId =
      e.type === 'checkout.session' && 'payment_intent' in patch
        ? idOf(e.obj.payment_intent)
        : e.type === 'invoice_payment' && 'payment' in patch
          ? idOf(e.obj.payment?.payment_intent)
          : null;
    if (piId) pushTo(e.type === 'checkout.session' ? this.sessionsByPi : this.invoicePaymentsByPi, piId, id);
  }

  /** Forgets an object, as Stripe does with deleted test data: retrieving it answers 404, lists omit it; its events stay. */
  delete(id: string): void {
    const e = this.byId.get(id);
    if (!e) throw new Error(`No such object: ${id}`);
    this.byId.delete(id);
    this.col(e.type).remove(e);
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [t, c] of this.collections) out[t] = c.size;
    let items = 0;
    for (const l of this.lineItems.values()) items += l.length;
    out['item'] = items;
    return out;
  }

  // ----- builders

  createCustomer(p: CustomerParams): Customer {
    const id = this.newId(p.id, 'cus_', 14);
    const c: Customer = {
      id,
      object: 'customer',
      address: null,
      balance: 0,
      created: this.time(p.created) ?? this.now(),
      currency: null,
      delinquent: false,
      description: null,
      email: p.email ?? null,
      livemode: p.livemode ?? this.livemode,
      metadata: { ...(p.metadata ?? {}) },
      name: p.name ?? null,
      phone: null,
    };
    this.insert('customer', c);
    return c;
  }

  createCheckoutPayment(p: CheckoutPaymentParams): CheckoutPaymentResult {
    const created = this.time(p.created);
    if (created === undefined || !Number.isFinite(created))
      throw new Error('createCheckoutPayment: created is required');
    const livemode = p.livemode ?? this.livemode;
    const mode = p.mode ?? 'payment';
    const status = p.status ?? 'complete';
    const paymentStatus =
      p.paymentStatus ?? (mode === 'setup' ? 'no_payment_required' : status === 'complete' ? 'paid' : 'unpaid');
    const currency = (p.currency ?? 'usd').toLowerCase();
    const sessionId = this.newId(p.id, livemode ? 'cs_live_a1' : 'cs_test_a1', 58);

    // line items (and their prices/products)
    let items: LineItem[] | null = null;
    if (p.lineItems && p.lineItems.length > 0) {
      items = p.lineItems.map((li) => {
        const existing = this.byId.get(li.price);
        let unit = li.unitAmount;
        if (unit === undefined && existing?.type === 'price') unit = (existing.obj as Price).unit_amount;
        if (unit === undefined && p.amount !== undefined && p.lineItems!.length === 1) {
          unit = Math.round(p.amount / Math.max(1, li.quantity));
        }
        if (unit === undefined) unit = 1000;
        return this.makeLineItem(li.price, li.quantity, unit, currency, created, livemode);
      });
    }
    const amount =
      p.amount ?? (items ? items.reduce((s, li) => s + li.amount_total, 0) : mode === 'setup' ? null : 1000);

    // PaymentIntent: see the brief for when there is one
    let piStatus = p.piStatus;
    if (piStatus === undefined) {
      const noPi =
        paymentStatus === 'no_payment_required' || mode !== 'payment' || status === 'open' || status === 'expired';
      if (!noPi) piStatus = paymentStatus === 'paid' ? SUCCEEDED : 'processing';
    }
    let paymentIntent: PaymentIntent | null = null;
    let charge: Charge | null = null;
    if (piStatus !== undefined) {
      const r = this.buildPaymentIntent({
        id: p.paymentIntentId,
        created: this.time(p.paidAt) ?? created + 60,
        status: piStatus,
        amount: amount ?? 0,
        currency,
        metadata: p.piMetadata,
        customer: p.customer ?? null,
        receiptEmail: p.receiptEmail ?? null,
        livemode,
      });
      paymentIntent = r.paymentIntent;
      charge = r.charge;
    }

    const email = p.email ?? null;
    const name = p.name ?? null;
    const session: CheckoutSession = {
      id: sessionId,
      object: 'checkout.session',
      amount_subtotal: amount,
      amount_total: amount,
      client_reference_id: p.clientReferenceId ?? null,
      created,
      currency: amount === null ? null : currency,
      customer: p.customer ?? null,
      customer_details:
        p.email !== undefined || p.name !== undefined
          ? { address: null, email, name, phone: null, tax_exempt: 'none', tax_ids: [] }
          : null,
      customer_email: p.customerEmail ?? null,
      expires_at: created + 86400,
      invoice: null,
      livemode,
      metadata: { ...(p.metadata ?? {}) },
      mode,
      payment_intent: paymentIntent ? paymentIntent.id : null,
      payment_link: null,
      payment_status: paymentStatus,
      setup_intent: mode === 'setup' && status === 'complete' ? randomId('seti_1', 23) : null,
      status,
      subscription: mode === 'subscription' && status === 'complete' ? randomId('sub_1', 23) : null,
      url: status === 'open' ? `https://checkout.stripe.com/c/pay/${sessionId}` : null,
    };
    this.insert('checkout.session', session);
    if (items) this.lineItems.set(sessionId, items);
    if (paymentIntent) pushTo(this.sessionsByPi, paymentIntent.id, sessionId);
    if (paymentIntent && p.invoice) this.createInvoiceFor(paymentIntent);
    this.emitCheckoutEvents(session, paymentIntent, charge);
    if (paymentIntent) this.applyReversals(paymentIntent, p);
    return { session, paymentIntent, charge };
  }

  createPaymentIntent(p: PaymentIntentParams): PaymentIntentResult {
    const r = this.buildPaymentIntent(p);
    const pi = r.paymentIntent;
    this.emitPaymentIntentEvents(pi, r.charge, pi.created);
    if (r.invoicePayment && pi.status === SUCCEEDED) {
      const inv = this.byId.get(idOf(r.invoicePayment.invoice) ?? '')?.obj;
      if (inv) this.emit('invoice.paid', inv, pi.created);
    }
    this.applyReversals(pi, p);
    return r;
  }

  /** The objects of createPaymentIntent, without events and without applying refundedAmount. */
  private buildPaymentIntent(p: PaymentIntentParams): PaymentIntentResult {
    const created = this.time(p.created);
    if (created === undefined || !Number.isFinite(created)) throw new Error('createPaymentIntent: created is required');
    const livemode = p.livemode ?? this.livemode;
    const status = p.status ?? SUCCEEDED;
    const amount = p.amount ?? 1000;
    const currency = (p.currency ?? 'usd').toLowerCase();
    const id = this.newId(p.id, 'pi_3', 23);
    const pi: PaymentIntent = {
      id,
      object: 'payment_intent',
      amount,
      amount_capturable: status === 'requires_capture' ? amount : 0,
      amount_received: p.amountReceived ?? (status === SUCCEEDED ? amount : 0),
      canceled_at: status === 'canceled' ? created : null,
      cancellation_reason: status === 'canceled' ? 'abandoned' : null,
      capture_method: 'automatic_async',
      created,
      currency,
      customer: p.customer ?? null,
      description: p.invoice ? 'Payment for Invoice' : null,
      latest_charge: null,
      livemode,
      metadata: { ...(p.metadata ?? {}) },
      payment_method: status === 'requires_payment_method' ? null : randomId('pm_1', 23),
      payment_method_types: ['card'],
      receipt_email: p.receiptEmail ?? null,
      status,
    };
    this.insert('payment_intent', pi);
    let charge: Charge | null = null;
    if (status === SUCCEEDED) charge = this.createCharge(pi);
    let invoicePayment: InvoicePayment | null = null;
    if (p.invoice) invoicePayment = this.createInvoiceFor(pi);
    return { paymentIntent: pi, charge, invoicePayment };
  }

  /**
   * processing → succeeded; amount_received = amount; charge created if missing; session → paid.
   * Its events at `at` (default now(); negative: that many seconds before now()), never before the PaymentIntent.
   */
  settle(paymentIntentId: string, at?: number): void {
    // Session and PaymentIntent fields changed here are not used by any index; invoice payments'
    // status is (the status filter), so that collection is marked as changed.
    const pi = this.mustGet<PaymentIntent>(paymentIntentId, 'payment_intent');
    const wasSucceeded = pi.status === SUCCEEDED;
    pi.status = SUCCEEDED;
    pi.amount_received = pi.amount;
    pi.amount_capturable = 0;
    if (!pi.latest_charge) this.createCharge(pi);
    const when = Math.max(this.time(at) ?? this.now(), pi.created);
    if (!wasSucceeded) {
      const ch = this.byId.get(idOf(pi.latest_charge) ?? '')?.obj;
      if (ch) this.emit('charge.succeeded', ch, when);
      this.emit('payment_intent.succeeded', pi, when);
    }
    for (const s of this.sessionsForPaymentIntent(pi.id)) {
      const wasPaid = s.payment_status === 'paid';
      s.payment_status = 'paid';
      if (!wasPaid && s.status === 'complete') this.emit('checkout.session.async_payment_succeeded', s, when);
    }
    for (const ip of this.invoicePaymentsForPaymentIntent(pi.id)) {
      const wasPaid = ip.status === 'paid';
      ip.status = 'paid';
      ip.amount_paid = ip.amount_requested;
      ip.status_transitions.paid_at = pi.created;
      this.col('invoice_payment').touched(false);
      const inv = this.byId.get(idOf(ip.invoice) ?? '')?.obj as Invoice | undefined;
      if (inv) {
        inv.status = 'paid';
        inv.amount_paid = inv.amount_due;
        inv.amount_remaining = 0;
        inv.status_transitions.paid_at = pi.created;
        if (!wasPaid) this.emit('invoice.paid', inv, when);
      }
    }
  }

  /**
   * An async payment that fails later: processing → requires_payment_method at now(); owning
   * sessions stay unpaid. Events payment_intent.payment_failed and
   * checkout.session.async_payment_failed (for completed sessions), at `at` as for settle().
   */
  failPayment(paymentIntentId: string, at?: number): void {
    const pi = this.mustGet<PaymentIntent>(paymentIntentId, 'payment_intent');
    if (pi.status === SUCCEEDED) throw new Error(`PaymentIntent ${paymentIntentId} has already succeeded`);
    pi.status = 'requires_payment_method';
    pi.amount_received = 0;
    pi.amount_capturable = 0;
    pi.payment_method = null;
    const when = Math.max(this.time(at) ?? this.now(), pi.created);
    this.emit('payment_intent.payment_failed', pi, when);
    for (const s of this.sessionsForPaymentIntent(pi.id)) {
      if (s.status === 'complete' && s.payment_status !== 'paid') {
        this.emit('checkout.session.async_payment_failed', s, when);
      }
    }
  }

  /**
   * Refund `amount` (default: the rest, and never more) of the PaymentIntent's latest charge;
   * null when nothing is left. Events charge.refunded, refund.created.
   */
  refund(paymentIntentId: string, amount?: number, opts?: RefundOptions): Refund | null {
    return this.reversals.refund(paymentIntentId, amount, opts);
  }

  // The later steps of refunds and disputes; see reversals.ts for the events each sends. `at`
  // is the events' time (negative: before now()), default now() but not before the object.

  /** A pending (or requires_action) refund succeeds. */
  settleRefund(refundId: string, at?: number): Refund {
    return this.reversals.settleRefund(refundId, at);
  }

  /** A refund fails; its amount is no longer refunded on the charge. */
  failRefund(refundId: string, opts?: { reason?: string; at?: number }): Refund {
    return this.reversals.failRefund(refundId, opts);
  }

  /** A requires_action refund is canceled; its amount is no longer refunded. */
  cancelRefund(refundId: string, at?: number): Refund {
    return this.reversals.cancelRefund(refundId, at);
  }

  /** A dispute (default a chargeback of what refunds left) on the PaymentIntent's charge. */
  openDispute(paymentIntentId: string, opts?: DisputeOptions): Dispute {
    return this.reversals.openDispute(paymentIntentId, opts);
  }

  /** Evidence submitted: the dispute is under review. */
  reviewDispute(disputeId: string, at?: number): Dispute {
    return this.reversals.reviewDispute(disputeId, at);
  }

  /** An inquiry becomes a chargeback. */
  escalateDispute(disputeId: string, at?: number): Dispute {
    return this.reversals.escalateDispute(disputeId, at);
  }

  /** The dispute is closed: `won`, `lost`, or for an inquiry `warning_closed`. */
  closeDispute(disputeId: string, outcome: 'won' | 'lost' | 'warning_closed', at?: number): Dispute {
    return this.reversals.closeDispute(disputeId, outcome, at);
  }

  /**
   * Adds an event about an object (a snapshot of it as it is now), for tests.
   * `created` defaults to now(); a negative value means that many seconds before now().
   */
  emitEvent(
    type: string,
    objectId: string,
    created?: number,
    previousAttributes?: Record<string, unknown>,
  ): StripeEvent {
    const e = this.byId.get(objectId);
    if (!e) throw new Error(`No such object: ${objectId}`);
    return this.emit(type, e.obj, this.time(created) ?? this.now(), previousAttributes);
  }

  /** Is this event within the retention window (not older than 30 days before now())? */
  eventRetained(ev: { created: number }): boolean {
    return ev.created >= this.eventCutoff();
  }

  /** Oldest `created` of an event still served. */
  eventCutoff(): number {
    return this.now() - EVENT_RETENTION_SECONDS;
  }

  /** Applies the builders in order: customers, checkoutPayments, paymentIntents. */
  loadFixture(f: Fixture): void {
    for (const c of f.customers ?? []) this.createCustomer(c);
    for (const c of f.checkoutPayments ?? []) this.createCheckoutPayment(c);
    for (const p of f.paymentIntents ?? []) this.createPaymentIntent(p);
  }

  /** Line items of a session (created on first use for sessions built without any). */
  lineItemsOf(sessionId: string): LineItem[] {
    let items = this.lineItems.get(sessionId);
    if (items) return items;
    const s = this.mustGet<CheckoutSession>(sessionId, 'checkout.session');
    if (s.mode === 'setup' || s.amount_total === null) items = [];
    else {
      const priceId = randomId('price_1', 23);
      items = [this.makeLineItem(priceId, 1, s.amount_total, s.currency ?? 'usd', s.created, s.livemode)];
    }
    this.lineItems.set(sessionId, items);
    return items;
  }

  /** Sessions whose payment_intent is this id. */
  sessionsForPaymentIntent(piId: string): CheckoutSession[] {
    return this.owners<CheckoutSession>(this.sessionsByPi, piId, (o) => idOf(o.payment_intent) === piId);
  }

  // ----- internals

  private emit(
    type: string,
    obj: LooseJson,
    created: number,
    previousAttributes?: Record<string, unknown>,
    livemode?: boolean,
  ): StripeEvent {
    const data: StripeEvent['data'] = { object: jsonCopy(obj) };
    if (previousAttributes) data.previous_attributes = jsonCopy(previousAttributes);
    const ev: StripeEvent = {
      id: this.newId(undefined, 'evt_1', 23),
      object: 'event',
      api_version: EVENT_API_VERSION,
      created,
      data,
      // a refund has no livemode of its own: the caller passes its charge's
      livemode: livemode ?? (typeof obj.livemode === 'boolean' ? obj.livemode : this.livemode),
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      type,
    };
    this.insert('event', ev);
    return ev;
  }

  /** Events of a PaymentIntent's status when it was created (and of its charge). */
  private emitPaymentIntentEvents(pi: PaymentIntent, charge: Charge | null, at: number): void {
    switch (pi.status) {
      case SUCCEEDED:
        if (charge) this.emit('charge.succeeded', charge, at);
        this.emit('payment_intent.succeeded', pi, at);
        break;
      case 'processing':
        this.emit('payment_intent.processing', pi, at);
        break;
      case 'requires_payment_method':
        this.emit('payment_intent.payment_failed', pi, at);
        break;
      case 'canceled':
        this.emit('payment_intent.canceled', pi, at);
        break;
    }
  }

  private emitCheckoutEvents(s: CheckoutSession, pi: PaymentIntent | null, charge: Charge | null): void {
    if (s.status === 'expired') {
      const at = s.created + 86400;
      if (at <= this.now()) this.emit('checkout.session.expired', s, at);
      return;
    }
    if (s.status !== 'complete') return;
    const at = pi ? pi.created : s.created;
    // a payment that went through (or is still processing) comes before the completion;
    // a failed or canceled one is reported after it
    const early = pi !== null && (pi.status === SUCCEEDED || pi.status === 'processing');
    if (pi && early) this.emitPaymentIntentEvents(pi, charge, at);
    this.emit('checkout.session.completed', s, at);
    if (pi && !early) {
      this.emitPaymentIntentEvents(pi, charge, at);
      if (pi.status === 'requires_payment_method' && s.payment_status !== 'paid') {
        this.emit('checkout.session.async_payment_failed', s, at);
      }
    }
  }

  /** A builder's refundedAmount, then its planned refunds and dispute. */
  private applyReversals(
    pi: PaymentIntent,
    p: { refundedAmount?: number; refunds?: RefundPlan[]; dispute?: DisputePlan },
  ) {
    if (pi.status === SUCCEEDED && p.refundedAmount) {
      this.reversals.refund(pi.id, p.refundedAmount, { created: Math.max(this.now(), pi.created) });
    }
    if ((p.refunds && p.refunds.length > 0) || p.dispute) {
      if (pi.status !== SUCCEEDED)
        throw new Error(`PaymentIntent ${pi.id} did not succeed: it has nothing to refund or dispute`);
      this.reversals.applyPlans(pi.id, p.refunds, p.dispute);
    }
  }

  private invoicePaymentsForPaymentIntent(piId: string): InvoicePayment[] {
    return this.owners<InvoicePayment>(this.invoicePaymentsByPi, piId, (o) => idOf(o.payment?.payment_intent) === piId);
  }

  /** Objects linked to piId (checked again, since update() may have changed the link). */
  private owners<T>(map: Map<string, string[]>, piId: string, check: (o: LooseJson) => boolean): T[] {
    const out: T[] = [];
    for (const id of new Set(map.get(piId) ?? [])) {
      const o = this.byId.get(id)?.obj;
      if (o && check(o)) out.push(o as T);
    }
    return out;
  }

  private createCharge(pi: PaymentIntent): Charge {
    const ch: Charge = {
      id: this.newId(undefined, 'ch_3', 23),
      object: 'charge',
      amount: pi.amount,
      amount_captured: pi.amount,
      amount_refunded: 0,
      balance_transaction: randomId('txn_3', 23),
      captured: true,
      created: pi.created,
      currency: pi.currency,
      customer: idOf(pi.customer),
      description: pi.description,
      disputed: false,
      livemode: pi.livemode,
      metadata: { ...pi.metadata },
      paid: true,
      payment_intent: pi.id,
      receipt_email: pi.receipt_email,
      refunded: false,
      status: SUCCEEDED,
    };
    this.insert('charge', ch);
    pi.latest_charge = ch.id;
    return ch;
  }

  private createInvoiceFor(pi: PaymentIntent): InvoicePayment {
    const paid = pi.status === SUCCEEDED;
    const inv: Invoice = {
      id: this.newId(undefined, 'in_1', 23),
      object: 'invoice',
      amount_due: pi.amount,
      amount_paid: paid ? pi.amount : 0,
      amount_remaining: paid ? 0 : pi.amount,
      created: pi.created,
      currency: pi.currency,
      customer: idOf(pi.customer),
      livemode: pi.livemode,
      metadata: {},
      status: paid ? 'paid' : 'open',
      status_transitions: { finalized_at: pi.created, paid_at: paid ? pi.created : null },
    };
    this.insert('invoice', inv);
    const ip: InvoicePayment = {
      id: this.newId(undefined, 'inpay_1', 23),
      object: 'invoice_payment',
      amount_paid: paid ? pi.amount : null,
      amount_requested: pi.amount,
      created: pi.created,
      currency: pi.currency,
      invoice: inv.id,
      is_default: true,
      livemode: pi.livemode,
      payment: { type: 'payment_intent', payment_intent: pi.id },
      status: paid ? 'paid' : pi.status === 'canceled' ? 'canceled' : 'open',
      status_transitions: {
        canceled_at: pi.status === 'canceled' ? pi.created : null,
        paid_at: paid ? pi.created : null,
      },
    };
    this.insert('invoice_payment', ip);
    pushTo(this.invoicePaymentsByPi, pi.id, ip.id);
    return ip;
  }

  private makeLineItem(
    priceId: string,
    quantity: number,
    unitAmount: number,
    currency: string,
    created: number,
    livemode: boolean,
  ): LineItem {
    let price = this.byId.get(priceId)?.obj as Price | undefined;
    if (!price) {
      const product: Product = {
        id: this.newId(undefined, 'prod_', 14),
        object: 'product',
        active: true,
        created,
        livemode,
        metadata: {},
        name: `Credit pack (${priceId})`,
      };
      this.insert('product', product);
      price = {
        id: this.newId(priceId, 'price_1', 23),
        object: 'price',
        active: true,
        created,
        currency,
        livemode,
        metadata: {},
        product: product.id,
        type: 'one_time',
        unit_amount: unitAmount,
      };
      this.insert('price', price);
    }
    const productName = (this.get(idOf(price.product) ?? '') as Product | undefined)?.name ?? 'Credit pack';
    const total = unitAmount * quantity;
    return {
      id: randomId('li_1', 23),
      object: 'item',
      amount_discount: 0,
      amount_subtotal: total,
      amount_tax: 0,
      amount_total: total,
      currency,
      description: productName,
      // the price as it was when bought, with this item's unit amount
      price: { ...price, unit_amount: unitAmount },
      quantity,
    };
  }

  private mustGet<T>(id: string, type: ObjectType): T {
    const e = this.byId.get(id);
    if (!e || e.type !== type) throw new Error(`No such ${type}: '${id}'`);
    return e.obj as T;
  }

  private col(type: ObjectType): Collection {
    return this.collections.get(type)!;
  }

  private insert(type: ObjectType, obj: { id: string; created: number }): void {
    const e: Entry = { obj, seq: ++this.seq, type };
    this.byId.set(obj.id, e);
    this.col(type).add(e);
  }

  private newId(explicit: string | undefined, prefix: string, n: number): string {
    if (explicit !== undefined) {
      if (this.byId.has(explicit)) throw new Error(`Duplicate id: ${explicit}`);
      return explicit;
    }
    for (;;) {
      const id = randomId(prefix, n);
      if (!this.byId.has(id)) return id;
    }
  }

  /** A timestamp param; a negative number means "that many seconds before now()". */
  private time(t: number | undefined): number | undefined {
    if (t === undefined) return undefined;
    return t < 0 ? this.now() + t : t;
  }
}
