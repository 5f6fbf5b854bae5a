import Stripe from 'stripe';
import { CliError, StripeAuthError, StripeUnavailableError } from '../errors.js';
import { RequestDeadlineError } from './http.js';
import { DEFAULT_RETRY_BUDGET_MS } from '../config.js';

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
  random: () => Math.random(),
};

export interface RetryPolicy {
  /** Give up once this much time has passed since the first attempt (SPEC: about a minute). */
  budgetMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  clock: Clock;
  /** Ends the retrying at once, throwing its reason (a run stopped by a signal, or over its budget). */
  signal?: AbortSignal;
}

export const DEFAULT_RETRY: RetryPolicy = {
  budgetMs: DEFAULT_RETRY_BUDGET_MS,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  clock: systemClock,
};

function isRetryable(e: unknown): boolean {
  if (e instanceof Stripe.errors.StripeRateLimitError) return true;
  if (e instanceof Stripe.errors.StripeConnectionError) return true;
  if (e instanceof Stripe.errors.StripeAPIError) return true;
  if (e instanceof Stripe.errors.StripeError) {
    const status = e.statusCode ?? 0;
    return status === 429 || status >= 500 || (status === 409 && e.code === 'lock_timeout');
  }
  return false;
}

/** The deadline that cut a request, however deep the SDK wrapped it (a body half read is wrapped twice). */
function deadlineOf(e: Stripe.errors.StripeError): RequestDeadlineError | null {
  const detail = (e as { detail?: unknown }).detail;
  if (detail instanceof RequestDeadlineError) return detail;
  const inner = (detail as { exception?: unknown } | undefined)?.exception;
  return inner instanceof RequestDeadlineError ? inner : null;
}

function describe(e: unknown): string {
  if (e instanceof Stripe.errors.StripeError) {
    const deadline = deadlineOf(e);
    if (deadline) return `timeout: ${deadline.message}`;
    const status = e.statusCode ? `HTTP ${e.statusCode}` : e.type;
    return `${status}: ${e.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs one read against Stripe, retrying 429, 5xx, timeouts and connection errors with
 * exponential backoff and full jitter until the policy's time budget is spent.
 * Authentication and permission errors become a `StripeAuthError` (exit 2) at once.
 */
export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  keyLabel?: string,
): Promise<T> {
  const started = policy.clock.now();
  for (let attempt = 0; ; attempt++) {
    policy.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (e) {
      // A request cut short because the run is stopping failed for that reason, not Stripe's.
      policy.signal?.throwIfAborted();
      if (e instanceof Stripe.errors.StripeAuthenticationError) {
        throw new StripeAuthError(
          `Stripe rejected the API key${keyLabel ? ` ${keyLabel}` : ''} (HTTP 401)`,
          'check STRIPE_API_KEY / STRIPE_API_KEY_FILE, and that the key belongs to this account and mode',
          { cause: e },
        );
      }
      if (e instanceof Stripe.errors.StripePermissionError) {
        throw new StripeAuthError(
          `the Stripe key may not ${what} (HTTP 403: ${e.message})`,
          'give the restricted key read access to Checkout Sessions, PaymentIntents, Charges, Invoices, Events, Refunds and Disputes (these two unless reversals ignores them)',
          { cause: e },
        );
      }
      if (!isRetryable(e)) {
        if (e instanceof Stripe.errors.StripeError) {
          throw new CliError(
            `Stripe refused to ${what}: ${describe(e)}${e.requestId ? ` (request ${e.requestId})` : ''}`,
            1,
            undefined,
            { cause: e },
          );
        }
        throw e;
      }
      const elapsed = policy.clock.now() - started;
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
      const delay = Math.floor(policy.clock.random() * cap);
      if (elapsed + delay >= policy.budgetMs) {
        const requestId = e instanceof Stripe.errors.StripeError ? e.requestId : undefined;
        throw new StripeUnavailableError(
          `could not ${what} after ${attempt + 1} attempts over ${Math.round(elapsed / 1000)}s: ${describe(e)}${requestId ? ` (last request ${requestId})` : ''}`,
          requestId,
          { cause: e },
        );
      }
      await policy.clock.sleep(delay, policy.signal);
    }
  }
}
