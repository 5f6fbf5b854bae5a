import Stripe from 'stripe';
import { DEFAULT_REQUEST_DEADLINE_MS } from '../config.js';
import { ConfigError } from '../errors.js';
import { DeadlineHttpClient } from './http.js';

/**
 * The API version every request is made with. Pinned so that object shapes do not change under
 * us when the account's default version moves; it is the version the installed SDK's types describe.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const;

export interface StripeClientOptions {
  apiKey: string;
  /** `https://api.stripe.com` by default; the simulator in tests and the demo. */
  apiBase: string;
  /** Per-request timeout: how long the server may stay silent. */
  timeoutMs?: number;
  /** How long one request may take in all (default DEFAULT_REQUEST_DEADLINE_MS). */
  deadlineMs?: number;
  /** Aborting it destroys every request in flight (a run that stops). */
  signal?: AbortSignal;
}

/** Splits an API base URL into the SDK's host/port/protocol options. */
export function apiBaseOptions(apiBase: string): { host: string; port: number; protocol: 'http' | 'https' } {
  let url: URL;
  try {
    url = new URL(apiBase);
  } catch {
    throw new ConfigError(
      `Stripe API base is not a URL: ${apiBase}`,
      'e.g. https://api.stripe.com or http://127.0.0.1:12111',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`Stripe API base must be http or https: ${apiBase}`);
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new ConfigError(`Stripe API base must not have a path: ${apiBase}`);
  }
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  const port = url.port ? Number(url.port) : protocol === 'http' ? 80 : 443;
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, protocol };
}

/**
 * The official SDK, pinned. Its own retries are off: `withRetry` retries every idempotent read
 * (429 included, which the SDK would not retry) under one time budget.
 */
export function createStripeClient(opts: StripeClientOptions): Stripe {
  return new Stripe(opts.apiKey, {
    apiVersion: STRIPE_API_VERSION,
    ...apiBaseOptions(opts.apiBase),
    maxNetworkRetries: 0,
    timeout: opts.timeoutMs ?? 30_000,
    httpClient: new DeadlineHttpClient(opts.deadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS, opts.signal),
    telemetry: false,
    appInfo: { name: 'stripe-credits' },
  });
}
