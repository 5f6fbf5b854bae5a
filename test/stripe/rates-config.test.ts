import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stripeReaderFor } from '../../src/app/stripe-reader.js';
import { resolveSettings } from '../../src/config.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';

/**
 * Issue 5: the rates are configurable (`--max-rps`, config `stripe.maxRequestsPerSecond` and
 * `stripe.maxRequestsPerSecondPerEndpoint`), with defaults just below Stripe's limits for the
 * key's mode, and no endpoint faster than the global rate.
 */
describe('rates to Stripe: defaults by key mode, config, --max-rps', () => {
  let cleanup = () => {};
  afterEach(() => cleanup());

  function settings(config: object | null, flags: { maxRps?: string } = {}, key = 'sk_live_rates') {
    const t = tempDir('rates-');
    cleanup = t.cleanup;
    const path = join(t.dir, 'stripe-credits.json');
    if (config) writeFileSync(path, JSON.stringify(config));
    return resolveSettings({ ...(config ? { config: path } : {}), ...flags }, { STRIPE_API_KEY: key }, t.dir);
  }
  const limits = (s: ReturnType<typeof settings>) => stripeReaderFor(s).limiter!.limits;

  it('defaults just below Stripe: 95 in all and 24 per endpoint with a live key, 22 and 20 with a test key', () => {
    expect(limits(settings(null))).toEqual({ global: 95, perEndpoint: 24 });
    expect(limits(settings(null, {}, 'sk_test_rates'))).toEqual({ global: 22, perEndpoint: 20 });
  });

  it('takes the config, and --max-rps over the config; no endpoint faster than the global rate', () => {
    expect(limits(settings({ stripe: { maxRequestsPerSecond: 40, maxRequestsPerSecondPerEndpoint: 10 } }))).toEqual({
      global: 40,
      perEndpoint: 10,
    });
    expect(
      limits(settings({ stripe: { maxRequestsPerSecond: 40, maxRequestsPerSecondPerEndpoint: 10 } }, { maxRps: '30' })),
    ).toEqual({ global: 30, perEndpoint: 10 });
    expect(limits(settings(null, { maxRps: '12' }))).toEqual({ global: 12, perEndpoint: 12 });
    expect(limits(settings({ stripe: { maxRequestsPerSecondPerEndpoint: 7.5 } }, {}, 'sk_test_rates'))).toEqual({
      global: 22,
      perEndpoint: 7.5,
    });
  });

  it('refuses a rate that is not a number above 0: --max-rps is a usage error, the config a configuration error', () => {
    for (const v of ['0', '-3', 'fast', '']) expect(() => settings(null, { maxRps: v })).toThrow(UsageError);
    for (const v of [0, -1, '25', null])
      expect(() => settings({ stripe: { maxRequestsPerSecond: v } })).toThrow(ConfigError);
    expect(() => settings({ stripe: { maxRequestsPerSecondPerEndpoint: 0 } })).toThrow(ConfigError);
    expect(() => settings({ stripe: { maxRps: 5 } })).toThrow(ConfigError);
  });
});
