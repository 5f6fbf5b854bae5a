import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, StripeAuthError, UsageError } from './errors.js';
import type { MatchConfig, CreditsConfig, StandalonePolicy } from './reconcile/types.js';

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

export interface AppConfig {
  users: UsersConfig;
  match: MatchConfig;
  credits: CreditsConfig;
  maxCreditsPerPayment: number;
  maxCreditsPerRun: number;
  /** Request rates; null means just below Stripe's documented limit for the key's mode. */
  stripe: { maxRequestsPerSecond: number | null; maxRequestsPerSecondPerEndpoint: number | null };
}

export const DEFAULT_CONFIG: AppConfig = {
  users: { schema: null, table: 'users', id: 'id', email: 'email', name: 'name', stripeCustomerId: null },
  match: { userIdKeys: ['user_id'], emailKeys: ['user_email'], byEmail: true, standalonePaymentIntents: 'with_metadata' },
  credits: { metadataKey: 'credits', prices: {}, unitAmountPerCredit: {} },
  maxCreditsPerPayment: 100000,
  maxCreditsPerRun: 1000000,
  stripe: { maxRequestsPerSecond: null, maxRequestsPerSecondPerEndpoint: null },
};

export const DEFAULT_DB = 'data/credits.db';
export const DEFAULT_CONFIG_FILE = 'stripe-credits.config.json';
export const DEFAULT_STRIPE_API_BASE = 'https://api.stripe.com';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Keys that belong to features not built yet: accepted by name, refused with a clear message. */
const NOT_BUILT: Record<string, string> = {
  ledger: 'mapping the ledger onto an existing table ("ledger") is not built yet; remove it to use the credit_ledger table',
  balance: 'a balance column ("balance") is not built yet',
};

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
    fail(where, `${JSON.stringify(v)} is not a valid SQL identifier (letters, digits and _, not starting with a digit)`);
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

function rate(where: string, v: Json): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 10000) fail(where, 'must be a number of requests per second above 0');
  return v;
}

function positiveInt(where: string, v: Json): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(where, 'must be a positive integer');
  return v;
}

/** Validates a parsed config document and fills in the defaults. */
export function parseConfig(doc: Json): AppConfig {
  if (!isObject(doc)) fail('file', 'must be a JSON object');
  const known = ['users', 'match', 'credits', 'maxCreditsPerPayment', 'maxCreditsPerRun', 'stripe', ...Object.keys(NOT_BUILT), '$schema'];
  checkKeys('file', doc, known);
  for (const [k, msg] of Object.entries(NOT_BUILT)) if (k in doc) throw new ConfigError(msg);

  const users: UsersConfig = { ...DEFAULT_CONFIG.users };
  if (doc.users !== undefined) {
    if (!isObject(doc.users)) fail('users', 'must be an object');
    checkKeys('users', doc.users, ['schema', 'table', 'id', 'email', 'name', 'stripeCustomerId']);
    const u = doc.users;
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
  }

  const match: MatchConfig = { ...DEFAULT_CONFIG.match };
  if (doc.match !== undefined) {
    if (!isObject(doc.match)) fail('match', 'must be an object');
    checkKeys('match', doc.match, ['userIdKeys', 'emailKeys', 'byEmail', 'standalonePaymentIntents']);
    const m = doc.match;
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
  }

  const credits: CreditsConfig = { ...DEFAULT_CONFIG.credits };
  if (doc.credits !== undefined) {
    if (!isObject(doc.credits)) fail('credits', 'must be an object');
    checkKeys('credits', doc.credits, ['metadataKey', 'prices', 'unitAmountPerCredit']);
    const c = doc.credits;
    if (c.metadataKey !== undefined) credits.metadataKey = str('credits.metadataKey', c.metadataKey);
    if (c.prices !== undefined) credits.prices = positiveIntMap('credits.prices', c.prices, true);
    if (c.unitAmountPerCredit !== undefined) {
      const m = positiveIntMap('credits.unitAmountPerCredit', c.unitAmountPerCredit, false);
      credits.unitAmountPerCredit = Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v]));
    }
  }

  const stripe = { ...DEFAULT_CONFIG.stripe };
  if (doc.stripe !== undefined) {
    if (!isObject(doc.stripe)) fail('stripe', 'must be an object');
    checkKeys('stripe', doc.stripe, ['maxRequestsPerSecond', 'maxRequestsPerSecondPerEndpoint']);
    if (doc.stripe.maxRequestsPerSecond !== undefined) stripe.maxRequestsPerSecond = rate('stripe.maxRequestsPerSecond', doc.stripe.maxRequestsPerSecond);
    if (doc.stripe.maxRequestsPerSecondPerEndpoint !== undefined) {
      stripe.maxRequestsPerSecondPerEndpoint = rate('stripe.maxRequestsPerSecondPerEndpoint', doc.stripe.maxRequestsPerSecondPerEndpoint);
    }
  }

  return {
    stripe,
    users,
    match,
    credits,
    maxCreditsPerPayment:
      doc.maxCreditsPerPayment === undefined ? DEFAULT_CONFIG.maxCreditsPerPayment : positiveInt('maxCreditsPerPayment', doc.maxCreditsPerPayment),
    maxCreditsPerRun:
      doc.maxCreditsPerRun === undefined ? DEFAULT_CONFIG.maxCreditsPerRun : positiveInt('maxCreditsPerRun', doc.maxCreditsPerRun),
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
    retryBudgetMs: retryBudget(env.STRIPE_CREDITS_RETRY_SECONDS),
    rateOverrides: {
      ...(config.stripe.maxRequestsPerSecond !== null ? { global: config.stripe.maxRequestsPerSecond } : {}),
      ...(config.stripe.maxRequestsPerSecondPerEndpoint !== null ? { perEndpoint: config.stripe.maxRequestsPerSecondPerEndpoint } : {}),
      ...(flags.maxRps !== undefined ? { global: maxRps(flags.maxRps) } : {}),
    },
    stripeApiKey: () => readStripeKey(env),
  };
}

function maxRps(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 10000) throw new UsageError(`--max-rps must be a number of requests per second above 0, not '${v}'`);
  return n;
}

function retryBudget(v: string | undefined): number {
  if (v === undefined || v === '') return 60_000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new ConfigError(`STRIPE_CREDITS_RETRY_SECONDS must be a number of seconds from 0 to 3600, not '${v}'`);
  return Math.round(n * 1000);
}

const KEY_SHAPE = /^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/;

/** STRIPE_API_KEY, else the file STRIPE_API_KEY_FILE names. Never a command-line flag. */
export function readStripeKey(env: NodeJS.ProcessEnv): string {
  let key = env.STRIPE_API_KEY?.trim();
  let source = 'STRIPE_API_KEY';
  if (!key && env.STRIPE_API_KEY_FILE) {
    source = `STRIPE_API_KEY_FILE (${env.STRIPE_API_KEY_FILE})`;
    try {
      key = readFileSync(env.STRIPE_API_KEY_FILE, 'utf8').trim();
    } catch (e) {
      throw new StripeAuthError(`cannot read STRIPE_API_KEY_FILE ${env.STRIPE_API_KEY_FILE}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (!key) {
    throw new StripeAuthError(
      'no Stripe API key: set STRIPE_API_KEY, or STRIPE_API_KEY_FILE to a file that holds it',
      'a restricted key with read access to Checkout Sessions, PaymentIntents, Charges, Invoices and Events is enough',
    );
  }
  if (!KEY_SHAPE.test(key)) {
    const kind = key.startsWith('pk_') ? 'a publishable key (pk_…), which cannot read payments' : 'not a Stripe secret (sk_…) or restricted (rk_…) key';
    throw new StripeAuthError(`the key in ${source} is ${kind}`);
  }
  return key;
}

export function keyIsLive(key: string): boolean {
  return /^(sk|rk)_live_/.test(key);
}
