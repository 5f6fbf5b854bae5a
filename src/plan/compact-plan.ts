import { emptyCounts, countStatus, type ReconcileCounts } from '../reconcile/plan.js';
import type {
  CreditRuleName,
  CreditToWrite,
  MatchedBy,
  PaymentDecision,
  PaymentStatus,
  ReviewReason,
  SkipReason,
} from '../reconcile/types.js';
import { IdTable } from './id-table.js';
import { sortIndexes } from './sort-indexes.js';
import {
  getNumber,
  growCodes,
  growNumbers,
  Interner,
  putCode as put,
  putNumber,
  type Codes,
  type Numbers,
} from './interner.js';

/**
 * The plan of a run as the use cases see it: decisions found by id or read in plan order, each
 * rebuilt when asked for (the plan keeps no decision objects).
 */
export interface RunPlan {
  readonly length: number;
  /** Whether this id is the payment key or the Checkout Session id of a payment in the plan. */
  has(id: string): boolean;
  /** The decision of the payment with this payment key or Checkout Session id, or null. */
  find(id: string): PaymentDecision | null;
  /** Every decision, in plan order. */
  decisions(): IterableIterator<PaymentDecision>;
  /** What a run reports (SPEC: every payment except those already credited before the run), in plan order. */
  reported(): Iterable<PaymentDecision>;
  counts(): ReconcileCounts;
  /** The first decision in plan order whose payment is (`true`) or is not a live-mode payment, or null. */
  firstInMode(livemode: boolean): PaymentDecision | null;
  /** The payment keys of the decisions with this status, in plan order. */
  keysWithStatus(status: PaymentStatus): string[];
  /** Puts the plan in the order it is written and reported: by time paid, then payment key. */
  sort(): void;
}

/**
 * The plan of a run, compact: a run decides every payment before it writes any, so the plan of a
 * large account is held in memory whole, and decision objects would be most of a run's memory
 * (docs/performance.md). A payment here is:
 * - its payment key and Checkout Session id as bytes outside the JavaScript heap (IdTable: V8
 *   sizes its heap by what is live), with a hash index that answers whether a payment key (or,
 *   built when first asked, a session id) is in the plan; its PaymentIntent id is a flag, since the
 *   core makes the PaymentIntent id the payment key whenever there is one;
 * - numbers in typed arrays (amount, credits, paid at: four bytes while they are 32-bit integers), one byte of flags (livemode, …) and one
 *   of status;
 * - everything that repeats across payments (currency, matched by, reason, credit rule, user id,
 *   customer id, name, the lists of emails, unknown ids and candidates) as an index into a table
 *   of distinct values, each value stored once.
 * `decision(i)` rebuilds the full PaymentDecision, field for field (nulls and empty lists included).
 * The use cases read it as a RunPlan; the accessors by index are for the writer (writePlan), which
 * rebuilds only what it writes.
 */
export class CompactPlan implements RunPlan {
  private capacity = 0;
  private count = 0;
  /** Payment keys and Checkout Session ids, outside the JavaScript heap (see IdTable). */
  private readonly keys = new IdTable();
  private readonly sessions = new IdTable();
  /** Details of the few decisions that have one (needs_review only): nothing per credited payment. */
  private readonly details = new Map<number, string>();
  private amounts: Numbers = new Int32Array(0);
  private credits: Numbers = new Int32Array(0);
  private paidAts: Numbers = new Int32Array(0);
  private statuses = new Uint8Array(0);
  private flags = new Uint8Array(0);
  private currencies: Codes = new Uint8Array(0);
  private matchedBys: Codes = new Uint8Array(0);
  private reasons: Codes = new Uint8Array(0);
  private creditRules: Codes = new Uint8Array(0);
  private userIds: Codes = new Uint8Array(0);
  private customerIds: Codes = new Uint8Array(0);
  private names: Codes = new Uint8Array(0);
  private emails: Codes = new Uint8Array(0);
  private unknownIds: Codes = new Uint8Array(0);
  private candidateUserIds: Codes = new Uint8Array(0);
  private readonly strings = new Interner<string>((s) => s);
  /** By text field (see text()), the value last coded and its code. */
  private readonly lastTexts: (string | null)[] = [null, null, null, null, null, null, null];
  private readonly lastCodes: number[] = [0, 0, 0, 0, 0, 0, 0];
  private readonly lists = new Interner<readonly string[]>(
    (l) => JSON.stringify(l),
    (l) => Object.freeze([...l]),
    // A list of one (a payment's email, mostly) is looked up by its element, in a table of its own:
    // no key is made for it.
    (l) => (l.length === 1 ? l[0]! : null),
  );
  /** Plan order (after sort()): position → index. */
  private order: Uint32Array | null = null;

  get length(): number {
    return this.count;
  }

  /** Adds a decision; returns its index. */
  push(d: PaymentDecision): number {
    if (d.paymentIntent !== null && d.paymentIntent !== d.paymentKey)
      throw new Error(
        `payment ${d.paymentKey} has PaymentIntent ${d.paymentIntent}: the key must be its PaymentIntent`,
      );
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    this.order = null;
    this.keys.push(d.paymentKey);
    this.sessions.push(d.checkoutSession);
    let flags = d.livemode ? LIVEMODE : 0;
    if (d.paymentIntent === d.paymentKey) flags |= INTENT_IS_KEY;
    if (d.status === 'already_credited') flags |= CREDITED_BEFORE;
    this.flags[i] = flags;
    if (d.detail !== undefined) this.details.set(i, d.detail);
    this.statuses[i] = STATUS_CODE[d.status];
    this.amounts = putNumber(this.amounts, i, d.amount ?? NaN);
    this.credits = putNumber(this.credits, i, d.credits ?? NaN);
    this.paidAts = putNumber(this.paidAts, i, d.paidAt);
    this.currencies = put(this.currencies, i, this.text(0, d.currency));
    this.matchedBys = put(this.matchedBys, i, this.text(1, d.matchedBy));
    this.reasons = put(this.reasons, i, this.text(2, d.reason));
    this.creditRules = put(this.creditRules, i, this.text(3, d.creditRule));
    this.userIds = put(this.userIds, i, this.text(4, d.userId));
    this.customerIds = put(this.customerIds, i, this.text(5, d.customerId));
    this.names = put(this.names, i, this.text(6, d.name));
    this.emails = put(this.emails, i, this.lists.id(d.emails.length === 0 ? null : d.emails));
    this.unknownIds = put(this.unknownIds, i, this.lists.id(d.unknownIds.length === 0 ? null : d.unknownIds));
    this.candidateUserIds = put(
      this.candidateUserIds,
      i,
      this.lists.id(d.candidateUserIds.length === 0 ? null : d.candidateUserIds),
    );
    return i;
  }

  /**
   * The code of a text field's value (`field` numbers the field): consecutive payments mostly carry
   * the same value in a field (a currency, a rule, a user buying again), which is then not looked up.
   */
  private text(field: number, v: string | null): number {
    if (v === this.lastTexts[field]) return this.lastCodes[field]!;
    const code = this.strings.id(v);
    this.lastTexts[field] = v;
    this.lastCodes[field] = code;
    return code;
  }

  /**
   * The full decision at index `i`, rebuilt (a new object: changing it changes nothing here). Field
   * for field, not a spread of credit(i), which V8 builds far slower.
   */
  decision(i: number): PaymentDecision {
    const c = this.credit(i);
    return {
      paymentKey: c.paymentKey,
      checkoutSession: c.checkoutSession,
      paymentIntent: c.paymentIntent,
      amount: c.amount,
      currency: c.currency,
      userId: c.userId,
      matchedBy: c.matchedBy,
      credits: c.credits,
      status: STATUSES[this.statuses[i]!]!,
      reason: this.strings.value(this.reasons[i]!) as ReviewReason | SkipReason | null,
      paidAt: getNumber(this.paidAts, i),
      livemode: c.livemode,
      creditRule: this.strings.value(this.creditRules[i]!) as CreditRuleName | null,
      unknownIds: [...(this.lists.value(this.unknownIds[i]!) ?? [])],
      candidateUserIds: [...(this.lists.value(this.candidateUserIds[i]!) ?? [])],
      emails: [...(this.lists.value(this.emails[i]!) ?? [])],
      customerId: c.customerId,
      name: this.strings.value(this.names[i]!),
      ...(this.details.has(i) ? { detail: this.details.get(i)! } : {}),
    };
  }

  /** The part of the decision at index `i` that its ledger entry is made of, rebuilt (for the writer). */
  credit(i: number): CreditToWrite {
    this.check(i);
    const flags = this.flags[i]!;
    const amount = getNumber(this.amounts, i);
    const credits = getNumber(this.credits, i);
    const key = this.keys.get(i)!;
    return {
      paymentKey: key,
      checkoutSession: this.sessions.get(i),
      paymentIntent: flags & INTENT_IS_KEY ? key : null,
      amount: Number.isNaN(amount) ? null : amount,
      currency: this.strings.value(this.currencies[i]!),
      userId: this.strings.value(this.userIds[i]!),
      matchedBy: this.strings.value(this.matchedBys[i]!) as MatchedBy | null,
      credits: Number.isNaN(credits) ? null : credits,
      livemode: (flags & LIVEMODE) !== 0,
      customerId: this.strings.value(this.customerIds[i]!),
    };
  }

  paymentKey(i: number): string {
    this.check(i);
    return this.keys.get(i)!;
  }

  /** Whether a decision for this payment key is in the plan. */
  hasPaymentKey(key: string): boolean {
    return this.keys.has(key);
  }

  /** Whether a decision in the plan has this Checkout Session id (an index is built the first time this is asked). */
  hasCheckoutSession(id: string): boolean {
    return this.sessions.has(id);
  }

  has(id: string): boolean {
    return this.hasPaymentKey(id) || this.hasCheckoutSession(id);
  }

  find(id: string): PaymentDecision | null {
    let i = this.keys.indexOf(id);
    if (i < 0) i = this.sessions.indexOf(id);
    return i < 0 ? null : this.decision(i);
  }

  firstInMode(livemode: boolean): PaymentDecision | null {
    for (const i of this.indexes()) if (this.livemode(i) === livemode) return this.decision(i);
    return null;
  }

  keysWithStatus(status: PaymentStatus): string[] {
    const keys: string[] = [];
    const code = STATUS_CODE[status];
    for (const i of this.indexes()) if (this.statuses[i] === code) keys.push(this.keys.get(i)!);
    return keys;
  }

  status(i: number): PaymentStatus {
    this.check(i);
    return STATUSES[this.statuses[i]!]!;
  }

  /** The writer found a purchase someone else wrote meanwhile: `credited` becomes `already_credited`. */
  setStatus(i: number, status: PaymentStatus): void {
    this.check(i);
    this.statuses[i] = STATUS_CODE[status];
  }

  livemode(i: number): boolean {
    this.check(i);
    return (this.flags[i]! & LIVEMODE) !== 0;
  }

  /** Whether the payment was already credited when it was decided (not merely found so while writing). */
  creditedBefore(i: number): boolean {
    this.check(i);
    return (this.flags[i]! & CREDITED_BEFORE) !== 0;
  }

  sort(): void {
    const order = new Uint32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const { paidAts, keys } = this;
    // The index last: the order of two payments with one key (there are none) is that they came in.
    sortIndexes(order, (a, b) => paidAts[a]! - paidAts[b]! || keys.compare(a, b) || a - b);
    this.order = order;
  }

  /**
   * Every index, ordered by payment key: the order the plan is written in (see writePlan). The
   * keys are compared as stored, no string made, and mostly by a number made of a few of their
   * bytes (IdTable.sortKeys).
   */
  byPaymentKey(): Uint32Array {
    const order = new Uint32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const { keys } = this;
    const first = keys.sortKeys();
    if (first === null) sortIndexes(order, (a, b) => keys.compare(a, b) || a - b);
    else sortIndexes(order, (a, b) => first[a]! - first[b]! || keys.compare(a, b) || a - b);
    return order;
  }

  /** The index of the payment at `position` in plan order (insertion order until sort()). */
  at(position: number): number {
    if (position < 0 || position >= this.count)
      throw new RangeError(`no payment at position ${position} of ${this.count}`);
    return this.order ? this.order[position]! : position;
  }

  /** Indexes in plan order. */
  *indexes(): IterableIterator<number> {
    for (let p = 0; p < this.count; p++) yield this.at(p);
  }

  /** Decisions in plan order, rebuilt one at a time. */
  *decisions(): IterableIterator<PaymentDecision> {
    for (const i of this.indexes()) yield this.decision(i);
  }

  /**
   * What a run reports (SPEC: every payment except those already credited before the run), in plan
   * order; iterable any number of times, each decision rebuilt as it is reached.
   */
  reported(): Iterable<PaymentDecision> {
    return {
      [Symbol.iterator]: (): Iterator<PaymentDecision> => {
        const it = this.indexes();
        return {
          next: (): IteratorResult<PaymentDecision> => {
            for (let r = it.next(); !r.done; r = it.next())
              if (!this.creditedBefore(r.value)) return { done: false, value: this.decision(r.value) };
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  counts(): ReconcileCounts {
    const counts = emptyCounts();
    for (let i = 0; i < this.count; i++) countStatus(counts, STATUSES[this.statuses[i]!]!);
    return counts;
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new RangeError(`no payment at index ${i} of ${this.count}`);
  }

  private grow(): void {
    const cap = Math.max(1024, this.capacity * 2);
    const more = <T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(
      a: T,
      make: new (n: number) => T,
    ): T => {
      const b = new make(cap);
      b.set(a);
      return b;
    };
    const moreCodes = (a: Codes): Codes => growCodes(a, cap);
    this.amounts = growNumbers(this.amounts, cap);
    this.credits = growNumbers(this.credits, cap);
    this.paidAts = growNumbers(this.paidAts, cap);
    this.statuses = more(this.statuses, Uint8Array);
    this.flags = more(this.flags, Uint8Array);
    this.currencies = moreCodes(this.currencies);
    this.matchedBys = moreCodes(this.matchedBys);
    this.reasons = moreCodes(this.reasons);
    this.creditRules = moreCodes(this.creditRules);
    this.userIds = moreCodes(this.userIds);
    this.customerIds = moreCodes(this.customerIds);
    this.names = moreCodes(this.names);
    this.emails = moreCodes(this.emails);
    this.unknownIds = moreCodes(this.unknownIds);
    this.candidateUserIds = moreCodes(this.candidateUserIds);
    this.capacity = cap;
  }
}

const LIVEMODE = 1;
/** The PaymentIntent id is the payment key (else it is null). */
const INTENT_IS_KEY = 2;
const CREDITED_BEFORE = 4;

const STATUSES: readonly PaymentStatus[] = [
  'credited',
  'would_credit',
  'already_credited',
  'needs_review',
  'pending',
  'skipped',
];
const STATUS_CODE = Object.fromEntries(STATUSES.map((s, i) => [s, i])) as Record<PaymentStatus, number>;
