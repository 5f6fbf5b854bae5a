import { keyIsLive, type Settings } from '../config.js';
import { maskKey } from '../errors.js';
import { createStripeClient } from '../stripe/client.js';
import { defaultRateLimits, RateLimiter, type RateLimits } from '../stripe/rate-limit.js';
import { StripeReader } from '../stripe/reader.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../stripe/retry.js';

/**
 * The Stripe reader every command uses: the settings' key and API base, the retry budget, and
 * rates just below Stripe's limits for the key's mode (unless overridden), no endpoint faster than
 * the global rate.
 */
export function stripeReaderFor(settings: Settings, opts: { retry?: RetryPolicy; rateLimits?: RateLimits } = {}): StripeReader {
  const apiKey = settings.stripeApiKey();
  const retry = opts.retry ?? { ...DEFAULT_RETRY, budgetMs: settings.retryBudgetMs };
  const limits = { ...(opts.rateLimits ?? { ...defaultRateLimits(keyIsLive(apiKey)), ...settings.rateOverrides }) };
  limits.perEndpoint = Math.min(limits.perEndpoint, limits.global);
  const client = createStripeClient({ apiKey, apiBase: settings.stripeApiBase });
  return new StripeReader(client, retry, maskKey(apiKey), new RateLimiter(limits, retry.clock));
}
