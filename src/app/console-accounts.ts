import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../ledger/db.js';
import { existingTables } from '../ledger/corrections.js';
import {
  claimLoginAttempt,
  clearFailedLogins,
  consoleUser,
  consoleUsers,
  deleteConsoleSession,
  deleteConsoleUser,
  deleteExpiredConsoleSessions,
  insertConsoleSession,
  insertConsoleUser,
  liveConsoleSession,
} from '../ledger/console-accounts.js';
import { openForReading, type SupportOptions } from './corrections.js';

/**
 * The support console's accounts: made by an operator from the CLI, checked by `serve`. Passwords
 * are scrypt hashes; a session is a random cookie of which the database keeps only the hash.
 */

export const CONSOLE_ROLES = ['viewer', 'support', 'admin'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

// How many wrong passwords lock an account, for how long, and how long a session lasts: config.console.
const MIN_PASSWORD = 10;
/** Longer passwords are refused without hashing: a sign-in must not make the server hash megabytes. */
const MAX_PASSWORD = 1024;

export interface ConsoleAccount {
  name: string;
  role: ConsoleRole;
  createdAt: string;
  lockedUntil: string | null;
}

export function parseRole(raw: string | undefined): ConsoleRole {
  const r = (raw ?? '').trim();
  if ((CONSOLE_ROLES as readonly string[]).includes(r)) return r as ConsoleRole;
  throw new UsageError(`--role must be one of ${CONSOLE_ROLES.join(', ')}, not '${raw ?? ''}'`);
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name))
    throw new UsageError(
      `account name '${name}' is not allowed`,
      'use letters, digits, dot, dash, underscore or @ (at most 64), e.g. jane.doe',
    );
  return name;
}

/**
 * scrypt's cost, stored in each hash (`scrypt$N$r$p$salt$hash`) so that it can be raised later and
 * older hashes still verify. Twice Node's default N: every sign-in (an unknown name too) pays it,
 * and OWASP's N=2^17 made the sign-in tests too slow on a busy machine. maxmem must allow it.
 */
const COST = { N: 2 ** 15, r: 8, p: 1 };
/** The first hashes had no parameters: `scrypt$salt$hash`, made with Node's defaults. */
const LEGACY_COST = { N: 2 ** 14, r: 8, p: 1 };
const KEYLEN = 32;
/** Accepted from a stored hash: a changed row must not make a sign-in allocate gigabytes. */
const MAX_N = 2 ** 20;

type Cost = typeof COST;

function scryptAsync(password: string, salt: Buffer, cost: Cost): Promise<Buffer> {
  const maxmem = 128 * cost.N * cost.r * cost.p + 32 * 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { ...cost, maxmem }, (e, key) => (e ? reject(e) : resolve(key))),
  );
}

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, COST);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** A stored hash's cost, salt and key; null for anything this version cannot verify. */
function parseHash(stored: string): { cost: Cost; salt: string; hash: string } | null {
  const parts = stored.split('$');
  if (parts[0] !== 'scrypt') return null;
  if (parts.length === 3 && parts[1] && parts[2]) return { cost: LEGACY_COST, salt: parts[1], hash: parts[2] };
  if (parts.length !== 6 || !parts[4] || !parts[5]) return null;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const ok =
    Number.isInteger(N) && N > 1 && N <= MAX_N && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
  return ok && Number.isInteger(r) && Number.isInteger(p)
    ? { cost: { N, r, p }, salt: parts[4], hash: parts[5] }
    : null;
}

async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const want = Buffer.from(parsed.hash, 'base64');
  const got = await scryptAsync(password, Buffer.from(parsed.salt, 'base64'), parsed.cost);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The same work as checking a real account's password, so that timing does not tell which names exist. */
function checkNobody(password: string): Promise<boolean> {
  return passwordMatches(password, `scrypt$${COST.N}$${COST.r}$${COST.p}$${randomBytes(16).toString('base64')}$AAAA`);
}

function toAccount(r: { name: string; role: string; created_at: string; locked_until: string | null }): ConsoleAccount {
  return { name: r.name, role: parseRole(r.role), createdAt: r.created_at, lockedUntil: r.locked_until };
}

async function withWritable<T>(o: SupportOptions, f: (open: OpenDb) => Promise<T>): Promise<T> {
  const open = await openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: false });
  try {
    await migrateToLatest(open.db);
    return await f(open);
  } finally {
    await open.close();
  }
}

/** `console user add`: a new account; a name already taken is refused (exit 2). */
export async function addConsoleUser(
  o: SupportOptions & { name: string; role: ConsoleRole; password: string },
): Promise<ConsoleAccount> {
  const name = checkName(o.name);
  if (o.password.length < MIN_PASSWORD)
    throw new UsageError(`the password must have at least ${MIN_PASSWORD} characters`);
  if (o.password.length > MAX_PASSWORD)
    throw new UsageError(`the password must have at most ${MAX_PASSWORD} characters`);
  const row = {
    name,
    role: o.role,
    password_hash: await hashPassword(o.password),
    created_at: new Date().toISOString(),
  };
  return withWritable(o, async (open) => {
    if (!(await insertConsoleUser(open.db, row)))
      throw new UsageError(`a console account named '${name}' exists already`, 'remove it first, or pick another name');
    return toAccount({ ...row, locked_until: null });
  });
}

/** `console user list`: every account (none on a database the tool never touched). */
export async function listConsoleUsers(o: SupportOptions): Promise<ConsoleAccount[]> {
  const open = await openForReading(o);
  try {
    if (!(await existingTables(open.db)).has('stripe_credits_console_users')) return [];
    return (await consoleUsers(open.db)).map(toAccount);
  } finally {
    await open.close();
  }
}

/** `console user remove`: the account and its sessions (signed out everywhere). */
export async function removeConsoleUser(o: SupportOptions & { name: string }): Promise<void> {
  await withWritable(o, async (open) => {
    if (!(await deleteConsoleUser(open.db, o.name)))
      throw new UsageError(`no console account named '${o.name}'`, 'see: stripe-credits console user list');
  });
}

/** `console user unlock`: lifts a lock left by wrong passwords before it runs out. */
export async function unlockConsoleUser(o: SupportOptions & { name: string }): Promise<void> {
  await withWritable(o, async (open) => {
    if (!(await consoleUser(open.db, o.name)))
      throw new UsageError(`no console account named '${o.name}'`, 'see: stripe-credits console user list');
    await clearFailedLogins(open.db, o.name);
  });
}

export interface SignedIn {
  account: ConsoleAccount;
  csrfToken: string;
}

export type SignInResult =
  | { outcome: 'signed_in'; token: string; session: SignedIn; expiresAt: string }
  | { outcome: 'refused' }
  | { outcome: 'locked' }
  | { outcome: 'unknown' };

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The accounts and sessions as `serve` uses them, on one connection it holds while it runs. */
export class ConsoleSessions {
  private constructor(
    private readonly open: OpenDb,
    private readonly limits: AppConfig['console'],
  ) {}

  /** Opens the database for the console's whole life (migrating it, as every writer does). */
  static async open(o: SupportOptions): Promise<ConsoleSessions> {
    const open = await openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: false });
    try {
      await migrateToLatest(open.db);
    } catch (e) {
      await open.close();
      throw e;
    }
    return new ConsoleSessions(open, o.settings.config.console);
  }

  /**
   * Checks a password; a locked account is refused even with the right one. The attempt is counted
   * before the (slow) check, so that concurrent sign-ins check at most console.lockAfterFailures passwords.
   */
  async signIn(name: string, password: string, now = new Date()): Promise<SignInResult> {
    // No account has one this long: refused before it counts against the account or costs a hash.
    if (password.length > MAX_PASSWORD) return { outcome: 'refused' };
    const lockUntil = new Date(now.getTime() + this.limits.lockMinutes * 60_000).toISOString();
    const o = { limit: this.limits.lockAfterFailures, now: now.toISOString(), lockUntil };
    const row = await claimLoginAttempt(this.open.db, name, o);
    if (!row) {
      // A locked account costs the hash an unknown name does: the time of the answer must not tell
      // which names exist and are locked.
      const [known] = await Promise.all([consoleUser(this.open.db, name), checkNobody(password)]);
      return { outcome: known ? 'locked' : 'unknown' };
    }
    if (!(await passwordMatches(password, row.password_hash)))
      return { outcome: Number(row.failed_attempts) >= this.limits.lockAfterFailures ? 'locked' : 'refused' };
    await clearFailedLogins(this.open.db, name);
    await deleteExpiredConsoleSessions(this.open.db, now.toISOString());
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.limits.sessionHours * 3600_000).toISOString();
    await insertConsoleSession(this.open.db, {
      id_hash: sha256(token),
      user_name: name,
      csrf_token: csrfToken,
      created_at: now.toISOString(),
      expires_at: expiresAt,
    });
    const account = toAccount({ ...row, locked_until: null });
    return { outcome: 'signed_in', token, session: { account, csrfToken }, expiresAt };
  }

  /** The live session a cookie names, or null (unknown, expired, or its account removed). */
  async session(token: string, now = new Date()): Promise<SignedIn | null> {
    const found = await liveConsoleSession(this.open.db, sha256(token), now.toISOString());
    return found ? { account: toAccount(found.user), csrfToken: found.session.csrf_token } : null;
  }

  async signOut(token: string): Promise<void> {
    await deleteConsoleSession(this.open.db, sha256(token));
  }

  close(): Promise<void> {
    return this.open.close();
  }
}
