import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { ConsoleRole, SignedIn } from '../app/console-accounts.js';

/** How the console is reached: over TLS itself, or behind a proxy whose forwarded headers it trusts. */
export interface Transport {
  tls: boolean;
  behindProxy: boolean;
}

export const SESSION_COOKIE = 'sc_session';
/** Before sign-in there is no session: the login form's CSRF token is a cookie of its own (double submit). */
export const LOGIN_COOKIE = 'sc_login';

/** Secure cookies when the browser talks HTTPS: our own TLS, or the proxy says so (trusted only with --behind-proxy). */
export function isHttps(c: Context, t: Transport): boolean {
  return t.tls || (t.behindProxy && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https');
}

/** The client's address: the socket's, or behind a proxy the address the proxy appended last. */
export function clientAddress(c: Context, t: Transport): string {
  if (t.behindProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',').pop()?.trim();
    if (forwarded) return forwarded;
  }
  return getConnInfo(c).remote.address ?? 'unknown';
}

export function cookieOptions(c: Context, t: Transport, maxAgeSeconds?: number) {
  return {
    httpOnly: true,
    sameSite: 'Strict' as const,
    secure: isHttps(c, t),
    path: '/',
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const RANK: Record<ConsoleRole, number> = { viewer: 0, support: 1, admin: 2 };

export function hasRole(s: SignedIn, role: ConsoleRole): boolean {
  return RANK[s.account.role] >= RANK[role];
}

/**
 * Failed sign-ins per key (an account name, an address) in a sliding window, in memory: it slows a
 * guesser down; the lock after five wrong passwords (in the database) is what stops one.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  private recent(key: string, now: number): number[] {
    const kept = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (kept.length > 0) this.failures.set(key, kept);
    else this.failures.delete(key);
    return kept;
  }

  /**
   * Counts an attempt as failed before it is checked, so that concurrent attempts see each other;
   * false (nothing counted) when a key is past its limit. `forgive` takes it back when it succeeds.
   */
  attempt(keys: readonly string[], now = Date.now()): boolean {
    if (!keys.every((k) => this.recent(k, now).length < this.limit)) return false;
    for (const k of keys) this.failures.set(k, [...this.recent(k, now), now]);
    return true;
  }

  forgive(keys: readonly string[], at: number): void {
    for (const k of keys) {
      const times = this.failures.get(k) ?? [];
      const i = times.indexOf(at);
      if (i >= 0) times.splice(i, 1);
      if (times.length === 0) this.failures.delete(k);
    }
  }
}
