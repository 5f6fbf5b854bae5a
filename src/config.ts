import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, StripeAuthError, UsageError } from './errors.js';
import type {
  MatchConfig,
  CreditsConfig,
  ReversalPolicy,
  ReversalsConfig,
  StandalonePolicy,
} from './reconcile/types.js';

/** The app's users table: where the tool looks users up (read only). */
export interface UsersConfig {
  /** Optional schema (Postgres); null for the default. */
  schema: string | null;
  table: string;
  id: string;
  email: string;
  /** Shown to people as a hint only, never used to match. null when the table has no name column. */
  name: string | null;
  stripeCustomerId: string | null;
}

/** A constant written into a column of the app's table (booleans go to SQLite as 1 and 0). */
export type SqlConstant = string | number | boolean | null;

/**
 * The app's own ledger table, when the config maps the ledger onto it (SPEC "Adopting an app that
 * already credits"). The tool writes each credit there in the app's shape and counts a payment as
 * credited when `paymentRef` holds its PaymentIntent id or its Checkout Session id.
 */
export interface LedgerMapping {
  schema: string | null;
  table: string;
  columns: {
    userId: string;
    credits: string;
    paymentRef: string;
    /** null: the column is left to the table's default. */
    createdAt: string | null;
  };
  /** How `createdAt` is written: ISO-8601 text (default), unix seconds or unix milliseconds. */
  createdAtFormat: 'iso' | 'unix' | 'unix_ms';
  /** Constant values of other columns on a purchase, and on a manual entry (default: `set`). */
  set: Record<string, SqlConstant>;
  setManual: Record<string, SqlConstant>;
  /** Which id the tool writes for a payment that has both. */
  refKind: 'payment_intent' | 'checkout_session';
}

/** A balance column on the user row that every credit the tool writes also moves. */
export interface BalanceConfig {
  schema: string | null;
  table: string;
  column: string;
  /** The column that holds the user id. */
  key: string;
}

export interface AppConfig {
  users: UsersConfig;
  /** null: the tool's own `credit_ledger` is the ledger. */
  ledger: LedgerMapping | null;
  balance: BalanceConfig | null;
  match: MatchConfig;
  credits: CreditsConfig;
  maxCreditsPerPayment: number;
  maxCreditsPerRun: number;
  /** What a refund or a dispute of a credited payment does (SPEC "Reversals"). */
  reversals: ReversalsConfig;
  /** Request rates; null means just below Stripe's documented limit for the key's mode. */
  stripe: { maxRequestsPerSecond: number | null; maxRequestsPerSecondPerEndpoint: number | null };
  /**
   * The support console (`serve`): the most credits a `support` account may adjust in one entry; how
   * many wrong passwords in a row lock an account, for how long; how long a session lasts.
   */
  console: { maxAdjustCredits: number; lockAfterFailures: number; lockMinutes: number; sessionHours: number };
}

export const DEFAULT_CONFIG: AppConfig = {
  users: { schema: null, table: 'users', id: 'id', email: 'email', name: 'name', stripeCustomerId: null },
  ledger: null,
  balance: null,
  match: {
    userIdKeys: ['user_id'],
    emailKeys: ['user_email'],
    byEmail: true,
    standalonePaymentIntents: 'with_metadata',
  },
  credits: { metadataKey: 'credits', prices: {}, unitAmountPerCredit: {}, minAmountPerCredit: {} },
  maxCreditsPerPayment: 100000,
  maxCreditsPerRun: 1000000,
  reversals: { refunds: 'review', disputes: 'review' },
  stripe: { maxRequestsPerSecond: null, maxRequestsPerSecondPerEndpoint: null },
  console: { maxAdjustCredits: 1000, lockAfterFailures: 5, lockMinutes: 15, sessionHours: 8 },
};

const DEFAULT_DB = 'data/credits.db';
export const DEFAULT_CONFIG_FILE = 'stripe-credits.config.json';
export const DEFAULT_STRIPE_API_BASE = 'https://api.stripe.com';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The tool's own tables: never a mapped ledger or a balance table. */
const OWN_TABLES = /^(credit_ledger|stripe_credits_.*)$/;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(where: string, msg: string): never {
  throw new ConfigError(`config ${where}: ${msg}`);
}

function checkKeys(where: string, obj: Record<string, Json>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(where, `unknown key "${k}" (known: ${allowed.join(', ')})`);
  }
}

function ident(where: string, v: Json): string {
  if (typeof v !== 'string' || !IDENT.test(v)) {
    fail(
      where,
      `${JSON.stringify(v)} is not a valid SQL identifier (letters, digits and _, not starting with a digit)`,
    );
  }
  return v;
}

function str(where: string, v: Json): string {
  if (typeof v !== 'string' || v === '') fail(where, 'must be a non-empty string');
  return v;
}

function strList(where: string, v: Json): string[] {
  if (!Array.isArray(v)) fail(where, 'must be a list of strings');
  return v.map((x, i) => str(`${where}[${i}]`, x));
}

function positiveIntMap(where: string, v: Json, allowZero: boolean): Record<string, number> {
  if (!isObject(v)) fail(where, 'must be an object');
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(v)) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || (!allowZero && n === 0)) {
      fail(`${where}.${k}`, `must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
    }
    out[k] = n;
  }
  return out;
}

/**
 * Positive integers keyed by currency as Stripe writes it (`usd`): a key such as `USD` or `us` is
 * refused rather than silently never matching, since a floor that never applies is no floor.
 */
function currencyMap(where: string, v: Json): Record<string, number> {
  const m = positiveIntMap(where, v, false);
  for (const k of Object.keys(v as Record<string, Json>)) {
    if (!/^[a-z]{3}$/.test(k))
      fail(`${where}.${k}`, 'must be a currency code as Stripe writes it: three lowercase letters, e.g. "usd"');
  }
  return m;
}

function rate(where: string, v: Json): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 10000)
    fail(where, 'must be a number of requests per second above 0');
  return v;
}

function positiveInt(where: string, v: Json): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(where, 'must be a positive integer');
  return v;
}

/** Validates a parsed config document and fills in the defaults. */
export function parseConfig(doc: Json): AppConfig {
  if (!isObject(doc)) fail('file', 'must be a JSON object');
  const known = [
    'users',
    'ledger',
    'balance',
    'match',
    'credits',
    'maxCreditsPerPayment',
    'maxCreditsPerRun',
    'reversals',
    'stripe',
    'console',
    '$schema',
  ];
  checkKeys('file', doc, known);

  // Each section in turn, so that the first mistake reported is the first in this order.
  const users = parseUsers(doc.users);
  const match = parseMatch(doc.match);
  const credits = parseCredits(doc.credits);
  const reversals = parseReversals(doc.reversals);
  const stripe = parseStripe(doc.stripe);
  return {
    reversals,
    stripe,
    console: parseConsole(doc.console),
    users,
    ledger: doc.ledger === undefined || doc.ledger === null ? null : parseLedger(doc.ledger),
    balance: doc.balance === undefined || doc.balance === null ? null : parseBalance(doc.balance, users),
    match,
    credits,
    maxCreditsPerPayment:
      doc.maxCreditsPerPayment === undefined
        ? DEFAULT_CONFIG.maxCreditsPerPayment
        : positiveInt('maxCreditsPerPayment', doc.maxCreditsPerPayment),
    maxCreditsPerRun:
      doc.maxCreditsPerRun === undefined
        ? DEFAULT_CONFIG.maxCreditsPerRun
        : positiveInt('maxCreditsPerRun', doc.maxCreditsPerRun),
  };
}

function parseConsole(c: Json): AppConfig['console'] {
  if (c === undefined) return { ...DEFAULT_CONFIG.console };
  if (!isObject(c)) fail('console', 'must be an object');
  const keys = ['maxAdjustCredits', 'lockAfterFailures', 'lockMinutes', 'sessionHours'] as const;
  checkKeys('console', c, [...keys]);
  const out = { ...DEFAULT_CONFIG.console };
  for (const k of keys) if (c[k] !== undefined) out[k] = positiveInt(`console.${k}`, c[k]);
  return out;
}

function parseUsers(u: Json): UsersConfig {
  const users: UsersConfig = { ...DEFAULT_CONFIG.users };
  if (u === undefined) return users;
  if (!isObject(u)) fail('users', 'must be an object');
  checkKeys('users', u, ['schema', 'table', 'id', 'email', 'name', 'stripeCustomerId']);
  if (u.table !== undefined) {
    const parts = str('users.table', u.table).split('.');
    if (parts.length > 2) fail('users.table', 'use "table" or "schema.table"');
    if (parts.length === 2) {
      users.schema = ident('users.table', parts[0]);
      users.table = ident('users.table', parts[1]);
    } else users.table = ident('users.table', parts[0]);
  }
  if (u.schema !== undefined && u.schema !== null) users.schema = ident('users.schema', u.schema);
  if (u.id !== undefined) users.id = ident('users.id', u.id);
  if (u.email !== undefined) users.email = ident('users.email', u.email);
  if (u.name !== undefined) users.name = u.name === null ? null : ident('users.name', u.name);
  if (u.stripeCustomerId !== undefined) {
    users.stripeCustomerId = u.stripeCustomerId === null ? null : ident('users.stripeCustomerId', u.stripeCustomerId);
  }
  return users;
}

function parseMatch(m: Json): MatchConfig {
  const match: MatchConfig = { ...DEFAULT_CONFIG.match };
  if (m === undefined) return match;
  if (!isObject(m)) fail('match', 'must be an object');
  checkKeys('match', m, ['userIdKeys', 'emailKeys', 'byEmail', 'standalonePaymentIntents']);
  if (m.userIdKeys !== undefined) match.userIdKeys = strList('match.userIdKeys', m.userIdKeys);
  if (m.emailKeys !== undefined) match.emailKeys = strList('match.emailKeys', m.emailKeys);
  if (m.byEmail !== undefined) {
    if (typeof m.byEmail !== 'boolean') fail('match.byEmail', 'must be true or false');
    match.byEmail = m.byEmail;
  }
  if (m.standalonePaymentIntents !== undefined) {
    const v = m.standalonePaymentIntents;
    if (v !== 'with_metadata' && v !== 'all' && v !== 'none') {
      fail('match.standalonePaymentIntents', 'must be "with_metadata", "all" or "none"');
    }
    match.standalonePaymentIntents = v as StandalonePolicy;
  }
  return match;
}

function parseCredits(c: Json): CreditsConfig {
  const credits: CreditsConfig = { ...DEFAULT_CONFIG.credits };
  if (c === undefined) return credits;
  if (!isObject(c)) fail('credits', 'must be an object');
  checkKeys('credits', c, ['metadataKey', 'prices', 'unitAmountPerCredit', 'minAmountPerCredit']);
  if (c.metadataKey !== undefined) credits.metadataKey = str('credits.metadataKey', c.metadataKey);
  if (c.prices !== undefined) credits.prices = positiveIntMap('credits.prices', c.prices, true);
  if (c.unitAmountPerCredit !== undefined) {
    const m = positiveIntMap('credits.unitAmountPerCredit', c.unitAmountPerCredit, false);
    credits.unitAmountPerCredit = Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
  }
  if (c.minAmountPerCredit !== undefined)
    credits.minAmountPerCredit = currencyMap('credits.minAmountPerCredit', c.minAmountPerCredit);
  return credits;
}

const POLICIES: readonly ReversalPolicy[] = ['debit', 'review', 'ignore'];

/** Each of refunds and disputes is one of POLICIES; a misspelt one must not fall back to the default. */
function parseReversals(v: Json): ReversalsConfig {
  const reversals = { ...DEFAULT_CONFIG.reversals };
  if (v === undefined) return reversals;
  if (!isObject(v)) fail('reversals', 'must be an object');
  checkKeys('reversals', v, ['refunds', 'disputes']);
  for (const k of ['refunds', 'disputes'] as const) {
    const p = v[k];
    if (p === undefined) continue;
    if (typeof p !== 'string' || !(POLICIES as readonly string[]).includes(p))
      fail(`reversals.${k}`, `must be "debit", "review" or "ignore", not ${JSON.stringify(p)}`);
    reversals[k] = p as ReversalPolicy;
  }
  return reversals;
}

function parseStripe(v: Json): AppConfig['stripe'] {
  const stripe = { ...DEFAULT_CONFIG.stripe };
  if (v === undefined) return stripe;
  if (!isObject(v)) fail('stripe', 'must be an object');
  checkKeys('stripe', v, ['maxRequestsPerSecond', 'maxRequestsPerSecondPerEndpoint']);
  if (v.maxRequestsPerSecond !== undefined)
    stripe.maxRequestsPerSecond = rate('stripe.maxRequestsPerSecond', v.maxRequestsPerSecond);
  if (v.maxRequestsPerSecondPerEndpoint !== undefined) {
    stripe.maxRequestsPerSecondPerEndpoint = rate(
      'stripe.maxRequestsPerSecondPerEndpoint',
      v.maxRequestsPerSecondPerEndpoint,
    );
  }
  return stripe;
}

/** "table" or "schema.table", as two checked identifiers. */
function tableName(where: string, v: Json, schema: Json): { schema: string | null; table: string } {
  const parts = str(where, v).split('.');
  if (parts.length > 2) fail(where, 'use "table" or "schema.table"');
  const table = ident(where, parts[parts.length - 1]);
  if (OWN_TABLES.test(table)) fail(where, `"${table}" is one of the tool's own tables; name the app's table`);
  if (parts.length === 2) return { schema: ident(where, parts[0]), table };
  return {
    schema: schema === undefined || schema === null ? null : ident(`${where.split('.')[0]}.schema`, schema),
    table,
  };
}

function constants(where: string, v: Json): Record<string, SqlConstant> {
  if (!isObject(v)) fail(where, 'must be an object of column names and constant values');
  const out: Record<string, SqlConstant> = {};
  for (const [k, x] of Object.entries(v)) {
    ident(`${where} key`, k);
    if (
      x !== null &&
      typeof x !== 'string' &&
      typeof x !== 'boolean' &&
      !(typeof x === 'number' && Number.isFinite(x))
    ) {
      fail(`${where}.${k}`, 'must be a string, a number, true, false or null');
    }
    out[k] = x as SqlConstant;
  }
  return out;
}

function parseLedger(v: Json): LedgerMapping {
  if (!isObject(v)) fail('ledger', 'must be an object');
  checkKeys('ledger', v, ['schema', 'table', 'columns', 'set', 'setManual', 'refKind', 'createdAtFormat']);
  if (v.table === undefined) fail('ledger.table', 'is required: the app table that holds its credits');
  const { schema, table } = tableName('ledger.table', v.table, v.schema);
  if (!isObject(v.columns))
    fail('ledger.columns', 'is required: {"userId", "credits", "paymentRef", "createdAt"} column names');
  checkKeys('ledger.columns', v.columns, ['userId', 'credits', 'paymentRef', 'createdAt']);
  const col = (k: 'userId' | 'credits' | 'paymentRef'): string => {
    const c = (v.columns as Record<string, Json>)[k];
    if (c === undefined) fail(`ledger.columns.${k}`, 'is required');
    return ident(`ledger.columns.${k}`, c);
  };
  const createdAt =
    v.columns.createdAt === undefined || v.columns.createdAt === null
      ? null
      : ident('ledger.columns.createdAt', v.columns.createdAt);
  const columns = { userId: col('userId'), credits: col('credits'), paymentRef: col('paymentRef'), createdAt };
  const mapped = Object.values(columns).filter((c): c is string => c !== null);
  if (new Set(mapped).size !== mapped.length) fail('ledger.columns', 'each must name a different column');
  const set = v.set === undefined ? {} : constants('ledger.set', v.set);
  const setManual = v.setManual === undefined ? { ...set } : constants('ledger.setManual', v.setManual);
  for (const [where, consts] of [
    ['ledger.set', set],
    ['ledger.setManual', setManual],
  ] as const) {
    for (const k of Object.keys(consts))
      if (mapped.includes(k)) fail(`${where}.${k}`, 'is already a mapped column (ledger.columns)');
  }
  let refKind: LedgerMapping['refKind'] = 'payment_intent';
  if (v.refKind !== undefined) {
    if (v.refKind !== 'payment_intent' && v.refKind !== 'checkout_session')
      fail('ledger.refKind', 'must be "payment_intent" or "checkout_session"');
    refKind = v.refKind;
  }
  let createdAtFormat: LedgerMapping['createdAtFormat'] = 'iso';
  if (v.createdAtFormat !== undefined) {
    if (v.createdAtFormat !== 'iso' && v.createdAtFormat !== 'unix' && v.createdAtFormat !== 'unix_ms')
      fail('ledger.createdAtFormat', 'must be "iso", "unix" or "unix_ms"');
    createdAtFormat = v.createdAtFormat;
  }
  return { schema, table, columns, createdAtFormat, set, setManual, refKind };
}

/** Table and key default to the users table and its id column. */
function parseBalance(v: Json, users: UsersConfig): BalanceConfig {
  if (!isObject(v)) fail('balance', 'must be an object');
  checkKeys('balance', v, ['schema', 'table', 'column', 'key']);
  const { schema, table } =
    v.table === undefined
      ? { schema: users.schema, table: users.table }
      : tableName('balance.table', v.table, v.schema);
  if (v.column === undefined) fail('balance.column', 'is required: the column that holds the balance');
  return {
    schema,
    table,
    column: ident('balance.column', v.column),
    key: v.key === undefined ? users.id : ident('balance.key', v.key),
  };
}

/** Reads and validates the config file; `explicit` says the user named it (then it must exist). */
export function loadConfigFile(path: string, explicit: boolean): AppConfig {
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError(`config file not found: ${path}`);
    return structuredClone(DEFAULT_CONFIG);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(doc);
}

export interface GlobalFlags {
  db?: string;
  config?: string;
  stripeApiBase?: string;
  maxRps?: string;
}

/** Everything a command needs to know, resolved as flag > environment > config file > default. */
export interface Settings {
  db: string;
  configPath: string | null;
  config: AppConfig;
  stripeApiBase: string;
  /** Rate overrides (flag --max-rps > config `stripe`); the rest defaults by the key's mode. */
  rateOverrides: { global?: number; perEndpoint?: number };
  /** How long to keep retrying Stripe before giving up (STRIPE_CREDITS_RETRY_SECONDS, default 60). */
  retryBudgetMs: number;
  /** How long one Stripe request may take in all, body included (STRIPE_CREDITS_REQUEST_SECONDS, default 60). */
  requestDeadlineMs: number;
  /** How long a reconcile run may take before it stops (STRIPE_CREDITS_RUN_SECONDS, default 1800). */
  runBudgetMs: number;
  /** Reads the key only when a command needs Stripe (so `migrate` works without one). */
  stripeApiKey(): string;
}

export function resolveSettings(flags: GlobalFlags, env: NodeJS.ProcessEnv, cwd: string): Settings {
  const explicitConfig = flags.config ?? env.STRIPE_CREDITS_CONFIG;
  const configPath = resolve(cwd, explicitConfig ?? DEFAULT_CONFIG_FILE);
  const config = loadConfigFile(configPath, explicitConfig !== undefined);
  return {
    db: flags.db ?? env.DATABASE_URL ?? DEFAULT_DB,
    configPath: existsSync(configPath) ? configPath : null,
    config,
    stripeApiBase: flags.stripeApiBase ?? env.STRIPE_API_BASE ?? DEFAULT_STRIPE_API_BASE,
    retryBudgetMs: secondsSetting(
      'STRIPE_CREDITS_RETRY_SECONDS',
      env.STRIPE_CREDITS_RETRY_SECONDS,
      DEFAULT_RETRY_BUDGET_MS,
      { max: 3600, zero: true },
    ),
    requestDeadlineMs: secondsSetting(
      'STRIPE_CREDITS_REQUEST_SECONDS',
      env.STRIPE_CREDITS_REQUEST_SECONDS,
      DEFAULT_REQUEST_DEADLINE_MS,
      { max: 600, zero: false },
    ),
    runBudgetMs: secondsSetting('STRIPE_CREDITS_RUN_SECONDS', env.STRIPE_CREDITS_RUN_SECONDS, DEFAULT_RUN_BUDGET_MS, {
      max: 7 * 86400,
      zero: false,
    }),
    rateOverrides: {
      ...(config.stripe.maxRequestsPerSecond !== null ? { global: config.stripe.maxRequestsPerSecond } : {}),
      ...(config.stripe.maxRequestsPerSecondPerEndpoint !== null
        ? { perEndpoint: config.stripe.maxRequestsPerSecondPerEndpoint }
        : {}),
      ...(flags.maxRps !== undefined ? { global: maxRps(flags.maxRps) } : {}),
    },
    stripeApiKey: () => readStripeKey(env),
  };
}

function maxRps(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 10000)
    throw new UsageError(`--max-rps must be a number of requests per second above 0, not '${v}'`);
  return n;
}

/** How long Stripe is retried before a run (or a library call) gives up. */
export const DEFAULT_RETRY_BUDGET_MS = 60_000;
/** The SDK's timeout only counts silence: a server that sends a byte now and then would hold a request for ever. */
export const DEFAULT_REQUEST_DEADLINE_MS = 60_000;
/** A run, and the lock it holds, ends after this however slowly Stripe or the database answers. */
export const DEFAULT_RUN_BUDGET_MS = 30 * 60_000;

/**
 * A number of seconds (from the environment, or a library option), as milliseconds: from 0 when
 * `zero` allows it, else above 0, and up to `max`; unset is `fallbackMs`.
 */
export function secondsSetting(
  name: string,
  v: string | number | undefined,
  fallbackMs: number,
  limits: { max: number; zero: boolean },
): number {
  if (v === undefined || v === '') return fallbackMs;
  const n = Number(v);
  if (!Number.isFinite(n) || (limits.zero ? n < 0 : n <= 0) || n > limits.max) {
    const range = limits.zero ? `from 0 to ${limits.max}` : `above 0 and up to ${limits.max}`;
    throw new ConfigError(`${name} must be a number of seconds ${range}, not ${typeof v === 'string' ? `'${v}'` : v}`);
  }
  return Math.round(n * 1000);
}

const KEY_SHAPE = /^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/;

/** STRIPE_API_KEY, else the file STRIPE_API_KEY_FILE names. Never a command-line flag. */
function readStripeKey(env: NodeJS.ProcessEnv): string {
  let key = env.STRIPE_API_KEY?.trim();
  let source = 'STRIPE_API_KEY';
  if (!key && env.STRIPE_API_KEY_FILE) {
    source = `STRIPE_API_KEY_FILE (${env.STRIPE_API_KEY_FILE})`;
    try {
      key = readFileSync(env.STRIPE_API_KEY_FILE, 'utf8').trim();
    } catch (e) {
      throw new StripeAuthError(
        `cannot read STRIPE_API_KEY_FILE ${env.STRIPE_API_KEY_FILE}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  }
  if (!key) {
    throw new StripeAuthError(
      'no Stripe API key: set STRIPE_API_KEY, or STRIPE_API_KEY_FILE to a file that holds it',
      'a restricted key with read access to Checkout Sessions, PaymentIntents, Charges, Invoices, Events, Refunds and Disputes is enough',
    );
  }
  if (!KEY_SHAPE.test(key)) {
    const kind = key.startsWith('pk_')
      ? 'a publishable key (pk_…), which cannot read payments'
      : 'not a Stripe secret (sk_…) or restricted (rk_…) key';
    throw new StripeAuthError(`the key in ${source} is ${kind}`);
  }
  return key;
}

export function keyIsLive(key: string): boolean {
  return /^(sk|rk)_live_/.test(key);
}
