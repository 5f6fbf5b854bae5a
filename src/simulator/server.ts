// A stateful Stripe-like HTTP server (GET endpoints only) over a SimulatorStore.
// The official `stripe` SDK works against it unchanged:
//   new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { maskKey } from '../errors.js';
import {
  SimulatorStore,
  idOf,
  pageOver,
  pageOverMany,
  type CreatedFilter,
  type Entry,
  type LooseJson,
  type ObjectType,
  type OrderKey,
} from './store.js';

export interface FaultOptions {
  /** Added to every response (ms). */
  latencyMs: number;
  /** Global limit of requests per rolling second; excess gets 429. null = off. */
  rateLimitPerSecond: number | null;
  /** Same, per endpoint (method + route pattern, e.g. 'GET /v1/checkout/sessions'). */
  rateLimitPerEndpointPerSecond: number | null;
  /** Probabilities 0..1 of an injected fault per request. */
  rate429: number;
  rate500: number;
  rateReset: number;
  /** Seed of the deterministic PRNG behind the probabilities. */
  seed: number;
}

export interface SimulatorOptions {
  /** 0 (default) = a random free port; always binds 127.0.0.1. */
  port?: number;
  /** Accepted keys; default ['sk_test_simulator']. */
  apiKeys?: string[];
  /**
   * Restricted keys (`rk_test_…`), accepted besides `apiKeys`, each with the permissions it holds
   * (see PERMISSIONS). A request that needs one the key lacks gets Stripe's 403 for a restricted key.
   */
  restrictedKeys?: Record<string, readonly SimulatorPermission[]>;
  /** Default of the objects' livemode field (default false). */
  livemode?: boolean;
  faults?: Partial<FaultOptions>;
  /** Unix seconds; default Math.floor(Date.now()/1000). */
  now?: () => number;
  /** Serve this store instead of a new empty one. */
  store?: SimulatorStore;
}

export type FailKind = '429' | '500' | 'reset';

export interface RequestLogEntry {
  method: string;
  path: string;
  /** Method + route pattern, e.g. 'GET /v1/checkout/sessions/:id' (method + path when no route matched). */
  endpoint: string;
  /** Parsed query string (nested objects/arrays). */
  query: Record<string, unknown>;
  /** HTTP status sent; 0 for a reset connection (or while the answer is still delayed). */
  status: number;
  /** Arrival time, ms since the epoch. */
  at: number;
}

export interface StripeSimulator {
  url: string;
  host: string;
  port: number;
  store: SimulatorStore;
  setFaults(f: Partial<FaultOptions>): void;
  failNext(n: number, kind: FailKind): void;
  requests: RequestLogEntry[];
  resetRequestLog(): void;
  close(): Promise<void>;
}

export const DEFAULT_API_KEY = 'sk_test_simulator';

/**
 * The read permissions a restricted key can hold, named as Stripe's 403 names them
 * ("Having the 'rak_charge_read' permission would allow this request to continue"), and the
 * Dashboard's name of each. Every route needs the permission of the object it serves; expanding a
 * field (`data.payment_intent.latest_charge`) needs the expanded objects' permissions too.
 */
export const PERMISSIONS = {
  rak_checkout_session_read: 'Checkout Sessions: Read',
  rak_payment_intent_read: 'PaymentIntents: Read',
  rak_charge_read: 'Charges: Read',
  rak_invoice_read: 'Invoices: Read',
  rak_event_read: 'Events: Read',
  rak_customer_read: 'Customers: Read',
  rak_product_read: 'Products: Read',
  rak_price_read: 'Prices: Read',
  rak_refund_read: 'Refunds: Read',
  rak_dispute_read: 'Disputes: Read',
} as const;
export type SimulatorPermission = keyof typeof PERMISSIONS;

const ROUTE_PERMISSIONS: Array<[string, SimulatorPermission]> = [
  ['/v1/checkout/sessions', 'rak_checkout_session_read'],
  ['/v1/payment_intents', 'rak_payment_intent_read'],
  ['/v1/invoice_payments', 'rak_invoice_read'],
  ['/v1/invoices', 'rak_invoice_read'],
  ['/v1/charges', 'rak_charge_read'],
  ['/v1/customers', 'rak_customer_read'],
  ['/v1/prices', 'rak_price_read'],
  ['/v1/products', 'rak_product_read'],
  ['/v1/events', 'rak_event_read'],
  ['/v1/refunds', 'rak_refund_read'],
  ['/v1/disputes', 'rak_dispute_read'],
];

const EXPAND_PERMISSIONS: Record<string, SimulatorPermission> = {
  payment_intent: 'rak_payment_intent_read',
  latest_charge: 'rak_charge_read',
  charge: 'rak_charge_read',
  customer: 'rak_customer_read',
  invoice: 'rak_invoice_read',
  price: 'rak_price_read',
  product: 'rak_product_read',
};

/** The permissions a request to a route pattern with these `expand[]` values needs. */
function permissionsNeeded(pattern: string, expand: unknown): SimulatorPermission[] {
  const needed = new Set<SimulatorPermission>();
  const own = ROUTE_PERMISSIONS.find(([prefix]) => pattern === prefix || pattern.startsWith(`${prefix}/`));
  if (own) needed.add(own[1]);
  const paths = Array.isArray(expand) ? expand : typeof expand === 'string' ? [expand] : [];
  for (const p of paths) {
    if (typeof p !== 'string') continue;
    for (const seg of p.split('.')) {
      const perm = EXPAND_PERMISSIONS[seg];
      if (perm) needed.add(perm);
    }
  }
  return [...needed];
}

const DEFAULT_FAULTS: FaultOptions = {
  latencyMs: 0,
  rateLimitPerSecond: null,
  rateLimitPerEndpointPerSecond: null,
  rate429: 0,
  rate500: 0,
  rateReset: 0,
  seed: 1,
};

// ---------------------------------------------------------------------------
// errors

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: Record<string, unknown> },
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.error.message));
  }
}

function invalid(message: string, param?: string, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError(400, {
    error: { type: 'invalid_request_error', message, ...(param !== undefined ? { param } : {}), ...extra },
  });
}

function noSuch(type: string, id: string, param: string, status = 404): ApiError {
  return new ApiError(status, {
    error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${type}: '${id}'`, param },
  });
}

const RATE_LIMIT_BODY = {
  error: {
    type: 'invalid_request_error',
    code: 'rate_limit',
    message: 'Too many requests hit the API too quickly.',
  },
};
const API_ERROR_BODY = { error: { type: 'api_error', message: 'An unknown error occurred' } };

// ---------------------------------------------------------------------------
// query strings in Stripe's form encoding

type QueryValue = string | QueryValue[] | { [k: string]: QueryValue };

function decodeComponent(s: string): string {
  const t = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(t);
  } catch {
    return t;
  }
}

/**
 * Parses `a=1&b[c]=2&d[]=x&d[]=y&e[0]=z` into nested objects and arrays.
 * Bracket parts `[]` append; objects whose keys are all indexes become arrays.
 */
export function parseQuery(qs: string): Record<string, unknown> {
  const root: Record<string, LooseJson> = Object.create(null);
  if (qs) {
    for (const part of qs.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const rawKey = decodeComponent(eq >= 0 ? part.slice(0, eq) : part);
      const value = decodeComponent(eq >= 0 ? part.slice(eq + 1) : '');
      assignPath(root, splitKey(rawKey), 0, value);
    }
  }
  return normalize(root) as Record<string, unknown>;
}

function assignPath(container: LooseJson, segs: string[], i: number, value: string): void {
  const last = i === segs.length - 1;
  const newContainer = () => (segs[i + 1] === '' ? [] : Object.create(null));
  if (Array.isArray(container)) {
    // arrays are only created for `[]`: append
    if (last) container.push(value);
    else {
      const child = newContainer();
      container.push(child);
      assignPath(child, segs, i + 1, value);
    }
    return;
  }
  const seg = segs[i]!;
  if (last) {
    container[seg] = value;
    return;
  }
  let child = container[seg];
  if (child === undefined || typeof child === 'string' || (segs[i + 1] === '' && !Array.isArray(child))) {
    child = newContainer();
    container[seg] = child;
  }
  assignPath(child, segs, i + 1, value);
}

function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0 || !key.endsWith(']')) return [key];
  const segs = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/gy;
  re.lastIndex = open;
  let m: RegExpExecArray | null;
  let pos = open;
  while ((m = re.exec(key))) {
    segs.push(m[1]!);
    pos = re.lastIndex;
  }
  if (pos !== key.length) return [key];
  return segs;
}

function normalize(v: LooseJson): QueryValue {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(normalize);
  const keys = Object.keys(v);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => normalize(v[k]));
  }
  return Object.fromEntries(keys.map((k) => [k, normalize(v[k])]));
}

// ---------------------------------------------------------------------------
// parameter validation

type ParamKind =
  | 'string'
  | 'strings'
  | 'boolean'
  | 'int'
  | 'limit'
  | 'created'
  | 'expand'
  | { enum: readonly string[] }
  | { object: Record<string, ParamKind>; required?: readonly string[] };

type ParamSpec = Record<string, ParamKind>;

interface Params {
  [k: string]: LooseJson;
  limit: number;
  expand: string[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateParams(query: Record<string, unknown>, spec: ParamSpec): Params {
  const out: Params = { limit: 10, expand: [] };
  for (const [k, v] of Object.entries(query)) {
    const kind = spec[k];
    if (!kind) throw invalid(`Received unknown parameter: ${k}`, k);
    const val = validateValue(v, kind, k);
    if (val !== undefined) out[k] = val;
  }
  return out;
}

function validateValue(v: unknown, kind: ParamKind, name: string): unknown {
  if (v === '') return undefined; // an empty value is "not given"
  if (typeof kind === 'object') {
    if ('enum' in kind) {
      if (typeof v !== 'string') throw invalid(`Invalid string: ${name}`, name);
      if (!kind.enum.includes(v)) throw invalid(`Invalid ${name}: must be one of ${oneOf(kind.enum)}`, name);
      return v;
    }
    if (!isObj(v)) throw invalid(`Invalid hash: ${name}`, name);
    const out: Record<string, unknown> = {};
    for (const [k, sub] of Object.entries(v)) {
      const subKind = kind.object[k];
      const subName = `${name}[${k}]`;
      if (!subKind) throw invalid(`Received unknown parameter: ${subName}`, subName);
      const val = validateValue(sub, subKind, subName);
      if (val !== undefined) out[k] = val;
    }
    for (const r of kind.required ?? []) {
      if (out[r] === undefined) throw invalid(`Missing required param: ${name}[${r}].`, `${name}[${r}]`);
    }
    return out;
  }
  switch (kind) {
    case 'string':
      if (typeof v !== 'string') throw invalid(`Invalid string: ${name}`, name);
      return v;
    case 'strings': {
      if (!Array.isArray(v)) throw invalid(`Invalid array`, name);
      return v.map((x, i) => {
        if (typeof x !== 'string') throw invalid(`Invalid string: ${name}[${i}]`, `${name}[${i}]`);
        return x;
      });
    }
    case 'boolean':
      if (v !== 'true' && v !== 'false') throw invalid(`Invalid boolean: ${typeof v === 'string' ? v : name}`, name);
      return v === 'true';
    case 'int':
      return parseIntParam(v, name);
    case 'limit': {
      const n = parseIntParam(v, name);
      if (n < 1) throw invalid('This value must be greater than or equal to 1.', name);
      if (n > 100) throw invalid('This value must be less than or equal to 100.', name);
      return n;
    }
    case 'created': {
      if (typeof v === 'string') return { eq: parseIntParam(v, name) } satisfies CreatedFilter;
      if (!isObj(v)) throw invalid(`Invalid integer: ${name}`, name);
      const out: CreatedFilter = {};
      for (const [k, sub] of Object.entries(v)) {
        const subName = `${name}[${k}]`;
        if (k !== 'gt' && k !== 'gte' && k !== 'lt' && k !== 'lte') {
          throw invalid(`Received unknown parameter: ${subName}`, subName);
        }
        if (sub === '') continue;
        out[k] = parseIntParam(sub, subName);
      }
      return out;
    }
    case 'expand': {
      if (!Array.isArray(v)) throw invalid(`Invalid array`, name);
      return v.map((x, i) => {
        if (typeof x !== 'string') throw invalid(`Invalid string: ${name}[${i}]`, `${name}[${i}]`);
        return x;
      });
    }
  }
}

function parseIntParam(v: unknown, name: string): number {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
    throw invalid(`Invalid integer: ${typeof v === 'string' ? v : name}`, name);
  }
  return Number(v);
}

function oneOf(values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}`;
}

const LIST: ParamSpec = { limit: 'limit', starting_after: 'string', ending_before: 'string', expand: 'expand' };
const RETRIEVE: ParamSpec = { expand: 'expand' };

// ---------------------------------------------------------------------------
// expansion

/** Expandable fields per object type (dotted keys: a field inside a sub-object). */
const EXPANDABLE: Record<string, Record<string, string>> = {
  'checkout.session': {
    customer: 'customer',
    invoice: 'invoice',
    line_items: 'list:item',
    payment_intent: 'payment_intent',
    payment_link: 'payment_link',
    setup_intent: 'setup_intent',
    subscription: 'subscription',
  },
  payment_intent: { customer: 'customer', latest_charge: 'charge', payment_method: 'payment_method' },
  charge: { balance_transaction: 'balance_transaction', customer: 'customer', payment_intent: 'payment_intent' },
  invoice: { customer: 'customer' },
  invoice_payment: { invoice: 'invoice', 'payment.payment_intent': 'payment_intent', 'payment.charge': 'charge' },
  item: { 'price.product': 'product' },
  price: { product: 'product' },
  refund: {
    balance_transaction: 'balance_transaction',
    charge: 'charge',
    customer: 'customer',
    failure_balance_transaction: 'balance_transaction',
    payment_intent: 'payment_intent',
    payment_method: 'payment_method',
  },
  dispute: { charge: 'charge', payment_intent: 'payment_intent' },
};

const MAX_EXPAND_DEPTH = 4;

type ExpandStep =
  { kind: 'data'; itemType: string } | { kind: 'field'; path: [string] | [string, string]; target: string };

/** Checks one expand path against the schema of `type` and turns it into steps. */
function planExpand(type: string, path: string): ExpandStep[] {
  const segs = path.split('.');
  const steps: ExpandStep[] = [];
  let t = type;
  let depth = 0;
  for (let i = 0; i < segs.length;) {
    const seg = segs[i]!;
    if (t.startsWith('list:')) {
      if (seg !== 'data' || i === segs.length - 1)
        throw invalid(`This property cannot be expanded (${path}).`, 'expand');
      t = t.slice(5);
      steps.push({ kind: 'data', itemType: t });
      i++;
      continue;
    }
    const schema = EXPANDABLE[t] ?? {};
    const two = i + 1 < segs.length ? `${seg}.${segs[i + 1]}` : null;
    let target: string | undefined;
    if (two !== null && schema[two]) {
      target = schema[two];
      steps.push({ kind: 'field', path: [seg, segs[i + 1]!], target });
      i += 2;
    } else if (schema[seg]) {
      target = schema[seg];
      steps.push({ kind: 'field', path: [seg], target });
      i += 1;
    } else {
      throw invalid(`This property cannot be expanded (${segs.slice(0, i + 1).join('.')}).`, 'expand');
    }
    if (++depth > MAX_EXPAND_DEPTH) {
      throw invalid(
        `You cannot expand more than ${MAX_EXPAND_DEPTH} levels of a property. Property: ${path}`,
        'expand',
      );
    }
    t = target;
  }
  return steps;
}

// ---------------------------------------------------------------------------
// Stripe search query syntax (subset)

interface SearchClause {
  negate: boolean;
  field: string; // 'metadata' for metadata['key']
  key: string | null; // metadata key
  op: ':' | '>' | '<' | '>=' | '<=';
  value: string;
}

interface SearchQuery {
  clauses: SearchClause[];
  joiner: 'AND' | 'OR';
}

function parseSearch(q: string, fields: readonly string[], resource: string): SearchQuery {
  const bad = (why: string) => invalid(`Invalid query: ${why}`, 'query');
  const clauses: SearchClause[] = [];
  let joiner: 'AND' | 'OR' | null = null;
  let i = 0;
  const s = q.trim();
  const ws = () => {
    while (i < s.length && s[i] === ' ') i++;
  };
  const quoted = (): string => {
    const quote = s[i];
    if (quote !== "'" && quote !== '"') throw bad(`expected a quoted string at position ${i}`);
    i++;
    let out = '';
    while (i < s.length && s[i] !== quote) {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      out += s[i++];
    }
    if (i >= s.length) throw bad('unterminated string');
    i++;
    return out;
  };
  if (!s) throw bad('the query is empty');
  for (;;) {
    ws();
    let negate = false;
    if (s[i] === '-') {
      negate = true;
      i++;
    }
    const fm = /^[a-z_]+/.exec(s.slice(i));
    if (!fm) throw bad(`expected a field at position ${i}`);
    const field = fm[0];
    i += field.length;
    let key: string | null = null;
    if (s[i] === '[') {
      i++;
      key = quoted();
      if (s[i] !== ']') throw bad(`expected ] at position ${i}`);
      i++;
    }
    if (!fields.includes(field) || (field === 'metadata') !== (key !== null)) {
      throw invalid(
        `Field \`${field}\` is an unsupported search field for resource \`${resource}\`. See http://stripe.com/docs/search#query-fields-for-${resource.replace(/_/g, '-')} for a list of supported fields.`,
        'query',
      );
    }
    const om = /^(>=|<=|:|>|<)/.exec(s.slice(i));
    if (!om) throw bad(`expected an operator at position ${i}`);
    const op = om[1] as SearchClause['op'];
    i += op.length;
    let value: string;
    if (s[i] === "'" || s[i] === '"') value = quoted();
    else {
      const vm = /^[^\s]+/.exec(s.slice(i));
      if (!vm) throw bad(`expected a value at position ${i}`);
      value = vm[0];
      i += value.length;
    }
    if (op !== ':' && !/^-?\d+(\.\d+)?$/.test(value)) throw bad(`${op} needs a number`);
    clauses.push({ negate, field, key, op, value });
    ws();
    if (i >= s.length) break;
    const jm = /^(AND|OR)\s/.exec(s.slice(i));
    if (!jm) throw bad(`expected AND or OR at position ${i}`);
    const j = jm[1] as 'AND' | 'OR';
    if (joiner && joiner !== j) throw bad('AND and OR cannot be combined in one query');
    joiner = j;
    i += j.length;
  }
  if (clauses.length > 10) throw bad('at most 10 clauses');
  return { clauses, joiner: joiner ?? 'AND' };
}

function clauseMatches(c: SearchClause, obj: LooseJson): boolean {
  let v: unknown;
  if (c.field === 'metadata') v = obj.metadata?.[c.key!];
  else v = obj[c.field];
  if (v !== null && typeof v === 'object') v = (v as { id?: unknown }).id;
  let r: boolean;
  if (c.op === ':') r = v !== undefined && v !== null && String(v) === c.value;
  else {
    const n = Number(v);
    const w = Number(c.value);
    if (typeof v !== 'number') r = false;
    else if (c.op === '>') r = n > w;
    else if (c.op === '<') r = n < w;
    else if (c.op === '>=') r = n >= w;
    else r = n <= w;
  }
  return c.negate ? !r : r;
}

function encodePage(k: OrderKey): string {
  return 'page_' + Buffer.from(`${k.created}.${k.seq}`).toString('base64url');
}

function decodePage(token: string): OrderKey {
  const m = /^page_([A-Za-z0-9_-]+)$/.exec(token);
  const parts = m ? Buffer.from(m[1]!, 'base64url').toString().split('.') : [];
  const created = Number(parts[0]);
  const seq = Number(parts[1]);
  if (parts.length !== 2 || !Number.isInteger(created) || !Number.isInteger(seq)) {
    throw invalid(`Invalid page: ${token}`, 'page');
  }
  return { created, seq };
}

// ---------------------------------------------------------------------------
// PRNG and rate windows

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Timestamps (ms) of the requests let through in the last second. */
class RollingWindow {
  private times: number[] = [];
  private head = 0;

  count(now: number): number {
    const cutoff = now - 1000;
    while (this.head < this.times.length && this.times[this.head]! <= cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  add(now: number): void {
    this.times.push(now);
  }
}

// ---------------------------------------------------------------------------
// routes

interface Ctx {
  store: SimulatorStore;
  query: Record<string, unknown>;
  params: string[];
}

interface Route {
  pattern: string;
  segs: string[];
  handler: (ctx: Ctx) => unknown;
}

const TYPE_NAMES: Record<ObjectType, string> = {
  event: 'event',
  customer: 'customer',
  payment_intent: 'payment_intent',
  charge: 'charge',
  'checkout.session': 'checkout.session',
  invoice: 'invoice',
  invoice_payment: 'invoice_payment',
  price: 'price',
  product: 'product',
  refund: 'refund',
  dispute: 'dispute',
};

interface Filter {
  /** Index name and key function; the filter value must equal the key. */
  name: string;
  key: (obj: LooseJson) => string | null | undefined;
  value: string | undefined;
}

function applyExpand(store: SimulatorStore, value: LooseJson, paths: string[], type: string): LooseJson {
  let out = value;
  for (const p of paths) out = expandSteps(store, out, planExpand(type, p), 0);
  return out;
}

function expandSteps(store: SimulatorStore, value: LooseJson, steps: ExpandStep[], i: number): LooseJson {
  if (i >= steps.length || value === null || typeof value !== 'object') return value;
  const st = steps[i]!;
  if (st.kind === 'data') {
    return { ...value, data: (value.data as LooseJson[]).map((v) => expandSteps(store, v, steps, i + 1)) };
  }
  const resolve = (cur: unknown, parent: LooseJson): unknown => {
    if (st.target === 'list:item') {
      if (cur && typeof cur === 'object') return cur;
      return lineItemList(store, parent.id, 10, undefined, undefined);
    }
    if (typeof cur === 'string') return store.get(cur) ?? cur;
    return cur;
  };
  const [a, b] = st.path;
  if (b === undefined) {
    return { ...value, [a]: expandSteps(store, resolve(value[a], value), steps, i + 1) };
  }
  const inner = value[a];
  if (!inner || typeof inner !== 'object') return value;
  return { ...value, [a]: { ...inner, [b]: expandSteps(store, resolve(inner[b], value), steps, i + 1) } };
}

function lineItemList(
  store: SimulatorStore,
  sessionId: string,
  limit: number,
  startingAfter: string | undefined,
  endingBefore: string | undefined,
): { object: 'list'; data: unknown[]; has_more: boolean; url: string } {
  const items = store.lineItemsOf(sessionId);
  const url = `/v1/checkout/sessions/${sessionId}/line_items`;
  const pos = (id: string, param: string) => {
    const i = items.findIndex((li) => li.id === id);
    if (i < 0) throw noSuch('item', id, param, 400);
    return i;
  };
  if (endingBefore !== undefined) {
    const end = pos(endingBefore, 'ending_before');
    const start = Math.max(0, end - limit);
    return { object: 'list', data: items.slice(start, end), has_more: start > 0, url };
  }
  const start = startingAfter !== undefined ? pos(startingAfter, 'starting_after') + 1 : 0;
  return { object: 'list', data: items.slice(start, start + limit), has_more: start + limit < items.length, url };
}

function cursorKey(
  store: SimulatorStore,
  id: string | undefined,
  type: ObjectType,
  param: string,
): OrderKey | undefined {
  if (id === undefined) return undefined;
  const e = store.entry(id);
  if (!e || e.type !== type) throw noSuch(TYPE_NAMES[type], id, param, 400);
  return { created: e.obj.created, seq: e.seq };
}

/** A Stripe list over one object type. */
function listObjects(
  ctx: Ctx,
  spec: ParamSpec,
  type: ObjectType,
  url: string,
  filters: (p: Params) => Filter[],
  extra?: (p: Params) => ((o: LooseJson) => boolean) | undefined,
): unknown {
  const p = validateParams(ctx.query, spec);
  const { store } = ctx;
  if (p.starting_after !== undefined && p.ending_before !== undefined) {
    throw invalid('You may only specify one of these parameters: ending_before, starting_after.', 'ending_before');
  }
  for (const e of p.expand) planExpand('list:' + type, e); // validate before doing any work
  const active = filters(p).filter((f) => f.value !== undefined);
  let base: Entry[];
  const preds: Array<(o: LooseJson) => boolean> = [];
  const first = active[0];
  if (first) {
    base = store.index(type, first.name, first.key).get(first.value!) ?? [];
    for (const f of active.slice(1)) preds.push((o) => f.key(o) === f.value);
  } else base = store.sorted(type);
  const x = extra?.(p);
  if (x) preds.push(x);
  const page = pageOver(base, {
    created: p.created,
    pred: preds.length === 0 ? undefined : preds.length === 1 ? preds[0] : (o) => preds.every((f) => f(o)),
    limit: p.limit,
    startingAfter: cursorKey(store, p.starting_after, type, 'starting_after'),
    endingBefore: cursorKey(store, p.ending_before, type, 'ending_before'),
  });
  return applyExpand(store, { object: 'list', data: page.data, has_more: page.hasMore, url }, p.expand, 'list:' + type);
}

const EVENT_LIST: ParamSpec = {
  ...LIST,
  created: 'created',
  delivery_success: 'boolean',
  type: 'string',
  types: 'strings',
};
const MAX_EVENT_TYPES = 20;

/** A glob over event types: `*` matches any run of characters (e.g. `checkout.session.*`). */
function typeMatcher(pattern: string): (t: string) => boolean {
  if (!pattern.includes('*')) return (t) => t === pattern;
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return (t) => re.test(t);
}

/** An event cursor: like cursorKey, and events past retention do not exist. */
function eventCursor(store: SimulatorStore, id: string | undefined, param: string): OrderKey | undefined {
  if (id === undefined) return undefined;
  const e = store.entry(id);
  if (!e || e.type !== 'event' || !store.eventRetained(e.obj)) throw noSuch('event', id, param, 400);
  return { created: e.obj.created, seq: e.seq };
}

function listEvents(ctx: Ctx): unknown {
  const p = validateParams(ctx.query, EVENT_LIST);
  const { store } = ctx;
  if (p.starting_after !== undefined && p.ending_before !== undefined) {
    throw invalid('You may only specify one of these parameters: ending_before, starting_after.', 'ending_before');
  }
  if (p.type !== undefined && p.types !== undefined) {
    throw invalid('You may only specify one of these parameters: type, types.', 'types');
  }
  const types = p.types as string[] | undefined;
  if (types !== undefined && types.length > MAX_EVENT_TYPES) {
    throw invalid(`Invalid array: types must have at most ${MAX_EVENT_TYPES} elements.`, 'types');
  }
  for (const e of p.expand) planExpand('list:event', e);
  // retention: nothing older than 30 days before now()
  const created: CreatedFilter = { ...(p.created ?? {}) };
  created.gte = Math.max(created.gte ?? -Infinity, store.eventCutoff());
  const patterns: string[] | undefined = p.type !== undefined ? [p.type] : types;
  let bases: Entry[][];
  if (patterns === undefined) bases = [store.sorted('event')];
  else {
    // one index bucket per matching type, merged while paging
    const byType = store.index('event', 'type', (o) => o.type);
    const matchers = patterns.map(typeMatcher);
    bases = [];
    for (const [t, bucket] of byType) if (matchers.some((m) => m(t))) bases.push(bucket);
  }
  // no webhook endpoints: every event counts as delivered
  if (p.delivery_success === false) bases = [];
  const page = pageOverMany(bases.length > 0 ? bases : [[]], {
    created,
    limit: p.limit,
    startingAfter: eventCursor(store, p.starting_after, 'starting_after'),
    endingBefore: eventCursor(store, p.ending_before, 'ending_before'),
  });
  return applyExpand(
    store,
    { object: 'list', data: page.data, has_more: page.hasMore, url: '/v1/events' },
    p.expand,
    'list:event',
  );
}

function retrieveEvent(ctx: Ctx): unknown {
  const p = validateParams(ctx.query, RETRIEVE);
  for (const e of p.expand) planExpand('event', e);
  const id = ctx.params[0]!;
  const e = ctx.store.entry(id);
  if (!e || e.type !== 'event' || !ctx.store.eventRetained(e.obj)) throw noSuch('event', id, 'id');
  return applyExpand(ctx.store, e.obj, p.expand, 'event');
}

function retrieveObject(ctx: Ctx, type: ObjectType): unknown {
  const p = validateParams(ctx.query, RETRIEVE);
  for (const e of p.expand) planExpand(type, e);
  const id = ctx.params[0]!;
  const e = ctx.store.entry(id);
  if (!e || e.type !== type) throw noSuch(TYPE_NAMES[type], id, 'id');
  return applyExpand(ctx.store, e.obj, p.expand, type);
}

const customerDetailsEmail = (o: LooseJson) => o.customer_details?.email ?? null;

const SESSION_LIST: ParamSpec = {
  ...LIST,
  created: 'created',
  status: { enum: ['open', 'complete', 'expired'] },
  customer: 'string',
  customer_details: { object: { email: 'string' }, required: ['email'] },
  payment_intent: 'string',
  payment_link: 'string',
  subscription: 'string',
};

const PI_LIST: ParamSpec = { ...LIST, created: 'created', customer: 'string' };
const PI_SEARCH: ParamSpec = { query: 'string', limit: 'limit', page: 'string', expand: 'expand' };
const PI_SEARCH_FIELDS = ['amount', 'created', 'currency', 'customer', 'metadata', 'status'] as const;

const INVOICE_PAYMENT_LIST: ParamSpec = {
  ...LIST,
  created: 'created',
  invoice: 'string',
  payment: {
    object: {
      type: { enum: ['charge', 'payment_intent', 'payment_record'] },
      payment_intent: 'string',
      charge: 'string',
      payment_record: 'string',
    },
    required: ['type'],
  },
  status: { enum: ['canceled', 'open', 'paid'] },
};

const CUSTOMER_LIST: ParamSpec = { ...LIST, created: 'created', email: 'string' };
const CHARGE_LIST: ParamSpec = { ...LIST, created: 'created', customer: 'string', payment_intent: 'string' };
/** GET /v1/refunds and GET /v1/disputes take the same filters. */
const REVERSAL_LIST: ParamSpec = { ...LIST, created: 'created', charge: 'string', payment_intent: 'string' };
const reversalFilters = (p: Params): Filter[] => [
  { name: 'charge', key: (o) => idOf(o.charge), value: p.charge },
  { name: 'payment_intent', key: (o) => idOf(o.payment_intent), value: p.payment_intent },
];

const ACCOUNT = {
  id: 'acct_1SimulatorAccount0',
  object: 'account',
  business_type: null,
  charges_enabled: true,
  country: 'US',
  default_currency: 'usd',
  details_submitted: true,
  email: null,
  payouts_enabled: true,
  settings: { dashboard: { display_name: 'Stripe Simulator', timezone: 'Etc/UTC' } },
  type: 'standard',
};

function searchPaymentIntents(ctx: Ctx): unknown {
  const p = validateParams(ctx.query, PI_SEARCH);
  if (p.query === undefined) throw invalid('Missing required param: query.', 'query');
  for (const e of p.expand) planExpand('list:payment_intent', e);
  const q = parseSearch(p.query, PI_SEARCH_FIELDS, 'payment_intents');
  const { store } = ctx;
  let base: Entry[] = store.sorted('payment_intent');
  let clauses = q.clauses;
  if (q.joiner === 'AND') {
    // narrow with an index on the first positive equality clause on metadata or customer
    const idx = clauses.findIndex(
      (c) => !c.negate && c.op === ':' && (c.field === 'metadata' || c.field === 'customer'),
    );
    const c = clauses[idx];
    if (c) {
      const map =
        c.field === 'metadata'
          ? store.index('payment_intent', `metadata:${c.key}`, (o) => o.metadata?.[c.key!])
          : store.index('payment_intent', 'customer', (o) => idOf(o.customer));
      base = map.get(c.value) ?? [];
      clauses = clauses.filter((_, i) => i !== idx);
    }
  }
  const pred =
    clauses.length === 0
      ? undefined
      : q.joiner === 'AND'
        ? (o: LooseJson) => clauses.every((c) => clauseMatches(c, o))
        : (o: LooseJson) => clauses.some((c) => clauseMatches(c, o));
  const page = pageOver(base, {
    pred,
    limit: p.limit,
    startingAfter: p.page !== undefined ? decodePage(p.page) : undefined,
  });
  const result = {
    object: 'search_result',
    data: page.data,
    has_more: page.hasMore,
    next_page: page.hasMore && page.last ? encodePage(page.last) : null,
    url: '/v1/payment_intents/search',
  };
  return applyExpand(store, result, p.expand, 'list:payment_intent');
}

function route(pattern: string, handler: (ctx: Ctx) => unknown): Route {
  return { pattern, segs: pattern.split('/').slice(1), handler };
}

const ROUTES: Route[] = [
  route('/v1/checkout/sessions', (ctx) =>
    listObjects(ctx, SESSION_LIST, 'checkout.session', '/v1/checkout/sessions', (p) => [
      { name: 'payment_intent', key: (o) => idOf(o.payment_intent), value: p.payment_intent },
      { name: 'customer', key: (o) => idOf(o.customer), value: p.customer },
      { name: 'customer_details.email', key: customerDetailsEmail, value: p.customer_details?.email },
      { name: 'subscription', key: (o) => idOf(o.subscription), value: p.subscription },
      { name: 'payment_link', key: (o) => idOf(o.payment_link), value: p.payment_link },
      { name: 'status', key: (o) => o.status, value: p.status },
    ]),
  ),
  route('/v1/checkout/sessions/:id', (ctx) => retrieveObject(ctx, 'checkout.session')),
  route('/v1/checkout/sessions/:id/line_items', (ctx) => {
    const p = validateParams(ctx.query, LIST);
    if (p.starting_after !== undefined && p.ending_before !== undefined) {
      throw invalid('You may only specify one of these parameters: ending_before, starting_after.', 'ending_before');
    }
    for (const e of p.expand) planExpand('list:item', e);
    const id = ctx.params[0]!;
    const e = ctx.store.entry(id);
    if (!e || e.type !== 'checkout.session') throw noSuch('checkout.session', id, 'id');
    const list = lineItemList(ctx.store, id, p.limit, p.starting_after, p.ending_before);
    return applyExpand(ctx.store, list, p.expand, 'list:item');
  }),
  route('/v1/payment_intents', (ctx) =>
    listObjects(ctx, PI_LIST, 'payment_intent', '/v1/payment_intents', (p) => [
      { name: 'customer', key: (o) => idOf(o.customer), value: p.customer },
    ]),
  ),
  route('/v1/payment_intents/search', searchPaymentIntents),
  route('/v1/payment_intents/:id', (ctx) => retrieveObject(ctx, 'payment_intent')),
  route('/v1/invoice_payments', (ctx) =>
    listObjects(
      ctx,
      INVOICE_PAYMENT_LIST,
      'invoice_payment',
      '/v1/invoice_payments',
      (p) => [
        {
          name: 'payment.payment_intent',
          key: (o) => idOf(o.payment?.payment_intent),
          value: p.payment?.payment_intent,
        },
        { name: 'payment.charge', key: (o) => idOf(o.payment?.charge), value: p.payment?.charge },
        {
          name: 'payment.payment_record',
          key: (o) => idOf(o.payment?.payment_record),
          value: p.payment?.payment_record,
        },
        { name: 'invoice', key: (o) => idOf(o.invoice), value: p.invoice },
        { name: 'status', key: (o) => o.status, value: p.status },
      ],
      (p) => (p.payment?.type !== undefined ? (o) => o.payment?.type === p.payment.type : undefined),
    ),
  ),
  route('/v1/invoice_payments/:id', (ctx) => retrieveObject(ctx, 'invoice_payment')),
  route('/v1/invoices/:id', (ctx) => retrieveObject(ctx, 'invoice')),
  route('/v1/charges', (ctx) =>
    listObjects(ctx, CHARGE_LIST, 'charge', '/v1/charges', (p) => [
      { name: 'payment_intent', key: (o) => idOf(o.payment_intent), value: p.payment_intent },
      { name: 'customer', key: (o) => idOf(o.customer), value: p.customer },
    ]),
  ),
  route('/v1/charges/:id', (ctx) => retrieveObject(ctx, 'charge')),
  route('/v1/customers', (ctx) =>
    listObjects(ctx, CUSTOMER_LIST, 'customer', '/v1/customers', (p) => [
      { name: 'email', key: (o) => o.email, value: p.email },
    ]),
  ),
  route('/v1/customers/:id', (ctx) => retrieveObject(ctx, 'customer')),
  route('/v1/prices/:id', (ctx) => retrieveObject(ctx, 'price')),
  route('/v1/events', listEvents),
  route('/v1/events/:id', retrieveEvent),
  route('/v1/products/:id', (ctx) => retrieveObject(ctx, 'product')),
  route('/v1/refunds', (ctx) => listObjects(ctx, REVERSAL_LIST, 'refund', '/v1/refunds', reversalFilters)),
  route('/v1/refunds/:id', (ctx) => retrieveObject(ctx, 'refund')),
  route('/v1/disputes', (ctx) => listObjects(ctx, REVERSAL_LIST, 'dispute', '/v1/disputes', reversalFilters)),
  route('/v1/disputes/:id', (ctx) => retrieveObject(ctx, 'dispute')),
  route('/v1/account', (ctx) => {
    validateParams(ctx.query, RETRIEVE);
    return ACCOUNT;
  }),
];

function matchRoute(path: string): { route: Route; params: string[] } | null {
  const segs = path.split('/').slice(1);
  outer: for (const r of ROUTES) {
    if (r.segs.length !== segs.length) continue;
    const params: string[] = [];
    for (let i = 0; i < segs.length; i++) {
      const want = r.segs[i]!;
      const got = segs[i]!;
      if (want.startsWith(':')) {
        if (!got) continue outer;
        params.push(decodeComponent(got));
      } else if (want !== got) continue outer;
    }
    return { route: r, params };
  }
  return null;
}

// ---------------------------------------------------------------------------
// the server

function requestId(): string {
  return 'req_' + randomBytes(10).toString('base64url').replace(/[-_]/g, 'x');
}

function apiKeyOf(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1]!;
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const user = decoded.split(':')[0] ?? '';
    return user || null;
  }
  return null;
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<StripeSimulator> {
  const store = opts.store ?? new SimulatorStore({ livemode: opts.livemode, now: opts.now });
  const apiKeys = new Set(opts.apiKeys ?? [DEFAULT_API_KEY]);
  const restricted = new Map(
    Object.entries(opts.restrictedKeys ?? {}).map(([k, perms]) => [k, new Set<string>(perms)]),
  );
  for (const k of restricted.keys()) apiKeys.add(k);
  let faults: FaultOptions = { ...DEFAULT_FAULTS, ...opts.faults };
  let random = mulberry32(faults.seed);
  const failQueue: FailKind[] = [];
  const requests: RequestLogEntry[] = [];
  const globalWindow = new RollingWindow();
  const endpointWindows = new Map<string, RollingWindow>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (fn: () => void) => {
    if (faults.latencyMs > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, faults.latencyMs);
      timers.add(t);
    } else fn();
  };

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      console.error('[stripe-simulator]', err);
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(API_ERROR_BODY));
      }
    }
  });
  server.keepAliveTimeout = 60_000;

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const at = Date.now();
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const qi = rawUrl.indexOf('?');
    const path = qi >= 0 ? rawUrl.slice(0, qi) : rawUrl;
    const query = parseQuery(qi >= 0 ? rawUrl.slice(qi + 1) : '');
    if (path === '/_simulator/stats') {
      // Not a Stripe endpoint: lets a process that runs the simulator separately (the bench) count
      // what a client asked for. Not logged itself; `?reset=1` starts the count afresh.
      const byEndpoint: Record<string, number> = {};
      let rejected = 0;
      for (const r of requests) {
        byEndpoint[r.endpoint] = (byEndpoint[r.endpoint] ?? 0) + 1;
        if (r.status !== 200) rejected += 1;
      }
      // `?timeline=1` adds each request's arrival (ms) and endpoint: how a client's rate held over a run.
      const timeline = query.timeline === '1' ? requests.map((r) => [r.at, r.endpoint]) : undefined;
      const body = JSON.stringify({ requests: requests.length, rejected, byEndpoint, timeline });
      if (query.reset === '1') requests.length = 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    const match = matchRoute(path);
    const endpoint = match ? `${method} ${match.route.pattern}` : `${method} ${path}`;
    const entry: RequestLogEntry = { method, path, endpoint, query, status: 0, at };
    requests.push(entry);

    // Stripe's clock is the store's (a test may set it apart from this machine's).
    const headers: Record<string, string> = {
      'request-id': requestId(),
      'content-type': 'application/json',
      date: new Date(store.now() * 1000).toUTCString(),
    };
    const version = req.headers['stripe-version'];
    if (typeof version === 'string') headers['stripe-version'] = version;

    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      entry.status = status;
      const payload = JSON.stringify(body);
      later(() => {
        if (res.destroyed) return;
        res.writeHead(status, { ...headers, ...extra, 'content-length': String(Buffer.byteLength(payload)) });
        res.end(payload);
      });
    };
    const reset = () => {
      entry.status = 0;
      later(() => req.socket.destroy());
    };

    // auth
    const key = apiKeyOf(req.headers.authorization);
    if (key === null || !apiKeys.has(key)) {
      send(401, {
        error: {
          type: 'invalid_request_error',
          message:
            key === null
              ? "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
              : `Invalid API Key provided: ${maskKey(key)}`,
        },
      });
      return;
    }

    // a restricted key lacking a permission: Stripe's 403 names the first one missing
    const granted = restricted.get(key);
    if (granted && match) {
      const missing = permissionsNeeded(match.route.pattern, query.expand).find((p) => !granted.has(p));
      if (missing) {
        send(403, {
          error: {
            type: 'invalid_request_error',
            message:
              `The provided key '${maskKey(key)}' does not have the required permissions for this endpoint on account '${ACCOUNT.id}'. ` +
              `Having the '${missing}' permission would allow this request to continue.`,
          },
        });
        return;
      }
    }

    // faults: the failNext queue, random faults, rate limiters
    const queued = failQueue.shift();
    if (queued !== undefined) {
      if (queued === 'reset') reset();
      else if (queued === '500') send(500, API_ERROR_BODY);
      else send(429, RATE_LIMIT_BODY);
      return;
    }
    const r = random();
    if (r < faults.rateReset) return reset();
    if (r < faults.rateReset + faults.rate500) return send(500, API_ERROR_BODY);
    if (r < faults.rateReset + faults.rate500 + faults.rate429) return send(429, RATE_LIMIT_BODY);
    if (faults.rateLimitPerSecond !== null || faults.rateLimitPerEndpointPerSecond !== null) {
      const now = Date.now();
      if (faults.rateLimitPerSecond !== null && globalWindow.count(now) >= faults.rateLimitPerSecond) {
        return send(429, RATE_LIMIT_BODY, { 'stripe-rate-limited-reason': 'global-rate' });
      }
      let ew: RollingWindow | undefined;
      if (faults.rateLimitPerEndpointPerSecond !== null) {
        ew = endpointWindows.get(endpoint);
        if (!ew) endpointWindows.set(endpoint, (ew = new RollingWindow()));
        if (ew.count(now) >= faults.rateLimitPerEndpointPerSecond) {
          return send(429, RATE_LIMIT_BODY, { 'stripe-rate-limited-reason': 'endpoint-rate' });
        }
      }
      if (faults.rateLimitPerSecond !== null) globalWindow.add(now);
      ew?.add(now);
    }

    // routing
    if (!match || method !== 'GET') {
      send(404, {
        error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` },
      });
      return;
    }
    try {
      send(200, match.route.handler({ store, query, params: match.params }));
    } catch (err) {
      if (err instanceof ApiError) send(err.status, err.body, err.headers);
      else {
        console.error('[stripe-simulator]', err);
        send(500, API_ERROR_BODY);
      }
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = '127.0.0.1';

  return {
    url: `http://${host}:${port}`,
    host,
    port,
    store,
    requests,
    setFaults(f: Partial<FaultOptions>) {
      const seedChanged = f.seed !== undefined && f.seed !== faults.seed;
      faults = { ...faults, ...f };
      if (seedChanged) random = mulberry32(faults.seed);
    },
    failNext(n: number, kind: FailKind) {
      for (let i = 0; i < n; i++) failQueue.push(kind);
    },
    resetRequestLog() {
      requests.length = 0;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
