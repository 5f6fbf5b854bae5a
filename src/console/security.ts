import { randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { ConsoleRole, SignedIn } from '../app/console-accounts.js';
import { UsageError } from '../errors.js';
import { locationSecrets, maskDbUrl, redactSecrets } from '../app/redact.js';
import type { SupportOptions } from '../app/corrections.js';

/** How the console is reached: over TLS itself, or behind a proxy whose forwarded headers it trusts. */
export interface Transport {
  tls: boolean;
  behindProxy: boolean;
  /** The proxies' own addresses: forwarded headers count only on a connection from one of them. */
  trustedProxies: BlockList;
}

export const SESSION_COOKIE = 'sc_session';
/** Before sign-in there is no session: the login form's CSRF token is a cookie of its own (double submit). */
export const LOGIN_COOKIE = 'sc_login';

/** The proxy's address when none is given: on the same machine. */
export const DEFAULT_TRUSTED_PROXIES = ['127.0.0.1', '::1'];

/** `--trusted-proxy` values (an address, or a network as ADDR/BITS) as a list to check peers against. */
export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const [addr = '', bits, extra] = raw.trim().split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    const prefix = bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits);
    const max = type === 'ipv6' ? 128 : 32;
    if (!isIP(addr) || extra !== undefined || !/^\d+$/.test(bits ?? '0') || prefix > max)
      throw new UsageError(`--trusted-proxy: not an IP address or ADDR/BITS network: '${raw}'`);
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

/** The socket's peer, an IPv4 address mapped into IPv6 (::ffff:a.b.c.d) written as IPv4. */
function peerAddress(c: Context): string {
  const a = getConnInfo(c).remote.address ?? '';
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/** The connection comes from a trusted proxy: only then do X-Forwarded-* headers count. */
function fromTrustedProxy(c: Context, t: Transport): boolean {
  const peer = peerAddress(c);
  return t.behindProxy && isIP(peer) !== 0 && t.trustedProxies.check(peer, isIP(peer) === 6 ? 'ipv6' : 'ipv4');
}

/** The client's address: the socket's, or from a trusted proxy the address that proxy appended last. */
export function clientAddress(c: Context, t: Transport): string {
  if (fromTrustedProxy(c, t)) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',').pop()?.trim();
    if (forwarded) return forwarded;
  }
  return peerAddress(c) || 'unknown';
}

/** Secure over our own TLS, and always behind a proxy: it terminates TLS for the browser. */
export function cookieOptions(_c: Context, t: Transport, maxAgeSeconds?: number) {
  return {
    httpOnly: true,
    sameSite: 'Strict' as const,
    secure: t.tls || t.behindProxy,
    path: '/',
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

/** The CLI's mask for any text from the database or an error: the database password never reaches a page or the log. */
export function redactor(support: SupportOptions): (text: string) => string {
  const secrets = locationSecrets(support.settings.db);
  return (text) => redactSecrets(maskDbUrl(text), secrets);
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
  private prunedAt = 0;
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Keys seen now and then (an address, a made-up account name): how many the limiter holds. */
  get keys(): number {
    return this.failures.size;
  }

  /** Drops keys whose failures all left the window, once a window: names made up by a guesser must not pile up. */
  private prune(now: number): void {
    if (now - this.prunedAt < this.windowMs) return;
    this.prunedAt = now;
    for (const key of [...this.failures.keys()]) this.recent(key, now);
  }

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
    this.prune(now);
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
