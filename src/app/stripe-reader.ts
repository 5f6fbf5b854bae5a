import { keyIsLive, type Settings } from '../config.js';
import { maskKey } from '../errors.js';
import { createStripeClient } from '../stripe/client.js';
import { defaultRateLimits, RateLimiter, type RateLimits } from '../stripe/rate-limit.js';
import { StripeReader } from '../stripe/reader.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../stripe/retry.js';

/**
 * The Stripe reader every command uses: the settings' key and API base, the retry budget, each
 * request's deadline, what stops the run (`signal`), and
 * rates just below Stripe's limits for the key's mode (unless overridden), no endpoint faster than
 * the global rate.
 */
export function stripeReaderFor(
  settings: Settings,
  opts: { retry?: RetryPolicy; rateLimits?: RateLimits; signal?: AbortSignal } = {},
): StripeReader {
  const apiKey = settings.stripeApiKey();
  const { signal } = opts;
  const retry = {
    ...(opts.retry ?? { ...DEFAULT_RETRY, budgetMs: settings.retryBudgetMs }),
    ...(signal ? { signal } : {}),
  };
  const limits = { ...(opts.rateLimits ?? { ...defaultRateLimits(keyIsLive(apiKey)), ...settings.rateOverrides }) };
  limits.perEndpoint = Math.min(limits.perEndpoint, limits.global);
  const client = createStripeClient({
    apiKey,
    apiBase: settings.stripeApiBase,
    deadlineMs: settings.requestDeadlineMs,
    signal,
  });
  const reader = new StripeReader(client, retry, maskKey(apiKey), new RateLimiter(limits, retry.clock));
  // A run that stops starts no request more; those in flight are cut by the client.
  signal?.addEventListener('abort', () => reader.stop(signal.reason), { once: true });
  return reader;
}
