import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
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

/** Wrong passwords in a row that lock an account, and for how long. */
export const LOCK_AFTER_FAILURES = 5;
const LOCK_MS = 15 * 60_000;
/** A session ends this long after sign-in, whatever happens in between. */
const SESSION_MS = 8 * 3600_000;
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

// Node's scrypt defaults (N=16384, r=8, p=1): about 16 MiB and a few tens of ms per check.
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, KEYLEN, (e, key) => (e ? reject(e) : resolve(key))));
}

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${(await scryptAsync(password, salt)).toString('base64')}`;
}

async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const want = Buffer.from(hash, 'base64');
  const got = await scryptAsync(password, Buffer.from(salt, 'base64'));
  return want.length === got.length && timingSafeEqual(want, got);
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
  private constructor(private readonly open: OpenDb) {}

  /** Opens the database for the console's whole life (migrating it, as every writer does). */
  static async open(o: SupportOptions): Promise<ConsoleSessions> {
    const open = await openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: false });
    try {
      await migrateToLatest(open.db);
    } catch (e) {
      await open.close();
      throw e;
    }
    return new ConsoleSessions(open);
  }

  /**
   * Checks a password; a locked account is refused even with the right one. The attempt is counted
   * before the (slow) check, so that concurrent sign-ins check at most LOCK_AFTER_FAILURES passwords.
   */
  async signIn(name: string, password: string, now = new Date()): Promise<SignInResult> {
    // No account has one this long: refused before it counts against the account or costs a hash.
    if (password.length > MAX_PASSWORD) return { outcome: 'refused' };
    const lockUntil = new Date(now.getTime() + LOCK_MS).toISOString();
    const o = { limit: LOCK_AFTER_FAILURES, now: now.toISOString(), lockUntil };
    const row = await claimLoginAttempt(this.open.db, name, o);
    if (!row) {
      const known = await consoleUser(this.open.db, name);
      // The same work as for a real account, so that timing does not tell which names exist.
      if (!known) await passwordMatches(password, `scrypt$${randomBytes(16).toString('base64')}$AAAA`);
      return { outcome: known ? 'locked' : 'unknown' };
    }
    if (!(await passwordMatches(password, row.password_hash)))
      return { outcome: Number(row.failed_attempts) >= LOCK_AFTER_FAILURES ? 'locked' : 'refused' };
    await clearFailedLogins(this.open.db, name);
    await deleteExpiredConsoleSessions(this.open.db, now.toISOString());
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + SESSION_MS).toISOString();
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
