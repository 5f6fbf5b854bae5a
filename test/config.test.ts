import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

/** The `reversals` section (SPEC "Reversals"): review by default, each kind on its own. */
describe('config reversals', () => {
  it.each<[string, unknown, { refunds: string; disputes: string }]>([
    ['absent: review for both', {}, { refunds: 'review', disputes: 'review' }],
    ['empty: review for both', { reversals: {} }, { refunds: 'review', disputes: 'review' }],
    ['refunds only', { reversals: { refunds: 'debit' } }, { refunds: 'debit', disputes: 'review' }],
    ['disputes only', { reversals: { disputes: 'ignore' } }, { refunds: 'review', disputes: 'ignore' }],
    ['both', { reversals: { refunds: 'ignore', disputes: 'debit' } }, { refunds: 'ignore', disputes: 'debit' }],
  ])('%s', (_name, doc, expected) => {
    expect(parseConfig(doc).reversals).toEqual(expected);
  });

  it.each<[unknown, RegExp]>([
    [
      { reversals: { refunds: 'Debit' } },
      /^config reversals\.refunds: must be "debit", "review" or "ignore", not "Debit"$/,
    ],
    [
      { reversals: { disputes: null } },
      /^config reversals\.disputes: must be "debit", "review" or "ignore", not null$/,
    ],
    [
      { reversals: { chargebacks: 'debit' } },
      /^config reversals: unknown key "chargebacks" \(known: refunds, disputes\)$/,
    ],
    [{ reversals: [] }, /^config reversals: must be an object$/],
  ])('%j is a ConfigError', (doc, message) => {
    expect(() => parseConfig(doc)).toThrow(ConfigError);
    expect(() => parseConfig(doc)).toThrow(message);
  });

  it('a parsed config does not share the defaults object', () => {
    const a = parseConfig({});
    a.reversals.refunds = 'debit';
    expect(parseConfig({}).reversals.refunds).toBe('review');
  });
});
