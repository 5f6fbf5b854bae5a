import { describe, expect, it } from 'vitest';
import { amountPaid, amountTooLow, computeCredits, needsLineItems } from '../../src/reconcile/credits.js';
import type { CreditsConfig, LineItemSnapshot, Payment } from '../../src/reconcile/types.js';
import { checkout, creditsConfig, standalone } from './builders.js';

const MAX = 100_000;
/** A config where every later rule would apply, to prove that metadata does not fall through. */
const everyRule = creditsConfig({ prices: { price_pack: 50 }, unitAmountPerCredit: { usd: 10 } });
const packItems: LineItemSnapshot[] = [{ priceId: 'price_pack', quantity: 1 }];

function credits(p: Payment, cfg: CreditsConfig = creditsConfig(), max = MAX) {
  return computeCredits(p, cfg, max);
}

describe('rule 1: metadata credits key', () => {
  it.each([
    ['1', 1],
    ['7', 7],
    ['007', 7],
    ['100', 100],
    ['100000', 100_000],
  ])('%j -> %i', (raw, n) => {
    expect(credits(checkout({ metadata: { credits: raw }, lineItems: packItems }), everyRule)).toEqual({
      ok: true,
      credits: n,
      rule: 'metadata',
    });
  });

  it.each(['', '0', '00', '-5', '+5', '1.5', ' 10', '10 ', '1e3', '0x10', 'abc', '١٠', '99999999999999999999'])(
    'present but invalid %j -> invalid_credits, no fall through',
    (raw) => {
      expect(credits(checkout({ metadata: { credits: raw }, lineItems: packItems }), everyRule)).toEqual({
        ok: false,
        reason: 'invalid_credits',
        detail: `credits metadata ${JSON.stringify(raw)} is not a positive whole number`,
      });
    },
  );

  it.each<[string, Record<string, string>, Record<string, string>, ReturnType<typeof credits>]>([
    ['session before PaymentIntent', { credits: '5' }, { credits: '9' }, { ok: true, credits: 5, rule: 'metadata' }],
    ['PaymentIntent when the session has none', {}, { credits: '9' }, { ok: true, credits: 9, rule: 'metadata' }],
    [
      'invalid on session, valid on PI: invalid',
      { credits: 'abc' },
      { credits: '9' },
      { ok: false, reason: 'invalid_credits', detail: 'credits metadata "abc" is not a positive whole number' },
    ],
    [
      'valid on session, invalid on PI: session wins',
      { credits: '5' },
      { credits: 'abc' },
      { ok: true, credits: 5, rule: 'metadata' },
    ],
    [
      'empty on session is present (invalid)',
      { credits: '' },
      { credits: '9' },
      { ok: false, reason: 'invalid_credits', detail: 'credits metadata "" is not a positive whole number' },
    ],
    [
      'invalid on PI only',
      {},
      { credits: '-1' },
      { ok: false, reason: 'invalid_credits', detail: 'credits metadata "-1" is not a positive whole number' },
    ],
  ])('%s', (_name, sessionMeta, piMeta, expected) => {
    expect(credits(checkout({ metadata: sessionMeta }, { metadata: piMeta }), everyRule)).toEqual(expected);
  });

  it('reads a standalone PaymentIntent metadata', () => {
    expect(credits(standalone({ metadata: { credits: '12' } }), everyRule)).toEqual({
      ok: true,
      credits: 12,
      rule: 'metadata',
    });
    expect(credits(standalone({ metadata: { credits: '1.0' } }), everyRule)).toEqual({
      ok: false,
      reason: 'invalid_credits',
      detail: 'credits metadata "1.0" is not a positive whole number',
    });
  });

  it('a long invalid value is shown cut short', () => {
    const long = 'x'.repeat(500);
    expect(credits(checkout({ metadata: { credits: long } }), everyRule)).toMatchObject({
      detail: `credits metadata "${'x'.repeat(40)}…" is not a positive whole number`,
    });
  });

  it('uses the configured key only', () => {
    const cfg = creditsConfig({ metadataKey: 'pack_credits' });
    expect(credits(checkout({ metadata: { pack_credits: '3', credits: 'abc' } }), cfg)).toEqual({
      ok: true,
      credits: 3,
      rule: 'metadata',
    });
    expect(credits(checkout({ metadata: { credits: '3' } }), cfg)).toEqual({ ok: false, reason: 'no_credit_rule' });
  });
});

describe('rule 2: price map', () => {
  const cfg = creditsConfig({ prices: { price_small: 100, price_big: 1000 }, unitAmountPerCredit: { usd: 10 } });

  it.each<[string, LineItemSnapshot[] | null, ReturnType<typeof credits>]>([
    ['one known item', [{ priceId: 'price_small', quantity: 1 }], { ok: true, credits: 100, rule: 'prices' }],
    ['quantity multiplies', [{ priceId: 'price_small', quantity: 3 }], { ok: true, credits: 300, rule: 'prices' }],
    [
      'sum over items',
      [
        { priceId: 'price_small', quantity: 2 },
        { priceId: 'price_big', quantity: 1 },
      ],
      { ok: true, credits: 1200, rule: 'prices' },
    ],
    [
      'one unknown price -> amount rule',
      [
        { priceId: 'price_small', quantity: 2 },
        { priceId: 'price_other', quantity: 1 },
      ],
      { ok: true, credits: 250, rule: 'unit_amount' },
    ],
    ['null price id -> amount rule', [{ priceId: null, quantity: 1 }], { ok: true, credits: 250, rule: 'unit_amount' }],
    ['no line items -> amount rule', [], { ok: true, credits: 250, rule: 'unit_amount' }],
    ['line items not fetched -> amount rule', null, { ok: true, credits: 250, rule: 'unit_amount' }],
  ])('%s', (_name, lineItems, expected) => {
    expect(credits(checkout({ lineItems, amountTotal: 2500 }), cfg)).toEqual(expected);
  });

  it('an unknown price without an amount rule -> no_credit_rule', () => {
    const onlyPrices = creditsConfig({ prices: { price_small: 100 } });
    expect(credits(checkout({ lineItems: [{ priceId: 'price_other', quantity: 1 }] }), onlyPrices)).toEqual({
      ok: false,
      reason: 'no_credit_rule',
    });
  });

  it('does not look up prices inherited from Object.prototype', () => {
    const onlyPrices = creditsConfig({ prices: { price_small: 100 } });
    expect(credits(checkout({ lineItems: [{ priceId: 'toString', quantity: 1 }] }), onlyPrices)).toEqual({
      ok: false,
      reason: 'no_credit_rule',
    });
  });

  it('does not apply to a standalone PaymentIntent', () => {
    expect(credits(standalone({ amountReceived: 2500 }), cfg)).toEqual({ ok: true, credits: 250, rule: 'unit_amount' });
  });
});

describe('rule 3: amount per credit', () => {
  const cfg = creditsConfig({ unitAmountPerCredit: { usd: 10, eur: 25, jpy: 1 } });

  it.each<[number, string, ReturnType<typeof credits>]>([
    [1000, 'usd', { ok: true, credits: 100, rule: 'unit_amount' }],
    [1009, 'usd', { ok: true, credits: 100, rule: 'unit_amount' }],
    [9, 'usd', { ok: true, credits: 0, rule: 'unit_amount' }],
    [0, 'usd', { ok: true, credits: 0, rule: 'unit_amount' }],
    [1000, 'eur', { ok: true, credits: 40, rule: 'unit_amount' }],
    [1024, 'eur', { ok: true, credits: 40, rule: 'unit_amount' }],
    [500, 'jpy', { ok: true, credits: 500, rule: 'unit_amount' }],
    [1000, 'USD', { ok: true, credits: 100, rule: 'unit_amount' }],
    [1000, 'Eur', { ok: true, credits: 40, rule: 'unit_amount' }],
    [1000, 'gbp', { ok: false, reason: 'no_credit_rule' }],
  ])('session amount_total %i %s', (amountTotal, currency, expected) => {
    expect(credits(checkout({ amountTotal, currency }, { amount: 99_999, amountReceived: 99_999 }), cfg)).toEqual(
      expected,
    );
  });

  it("uses a standalone PaymentIntent's amount_received, not its amount", () => {
    expect(credits(standalone({ amount: 5000, amountReceived: 1234, currency: 'usd' }), cfg)).toEqual({
      ok: true,
      credits: 123,
      rule: 'unit_amount',
    });
  });

  it.each([0, -10])('a non-positive unit (%i) does not apply', (unit) => {
    expect(credits(checkout({}), creditsConfig({ unitAmountPerCredit: { usd: unit } }))).toEqual({
      ok: false,
      reason: 'no_credit_rule',
    });
  });

  it('a session without amount or currency -> no_credit_rule', () => {
    expect(credits(checkout({ amountTotal: null }), cfg)).toEqual({ ok: false, reason: 'no_credit_rule' });
    expect(credits(checkout({ currency: null }), cfg)).toEqual({ ok: false, reason: 'no_credit_rule' });
  });
});

describe('rule 4: nothing applies', () => {
  it.each<[string, Payment]>([
    ['session', checkout({})],
    ['standalone', standalone({})],
    ['session with line items but empty price map', checkout({ lineItems: packItems })],
  ])('%s -> no_credit_rule', (_name, p) => {
    expect(credits(p, creditsConfig())).toEqual({ ok: false, reason: 'no_credit_rule' });
  });
});

describe('maxCreditsPerPayment', () => {
  const cfg = creditsConfig({ prices: { price_pack: 600 }, unitAmountPerCredit: { usd: 1 } });
  it.each<[string, Payment, number, ReturnType<typeof credits>]>([
    [
      'metadata at the cap',
      checkout({ metadata: { credits: '500' } }),
      500,
      { ok: true, credits: 500, rule: 'metadata' },
    ],
    [
      'metadata over the cap',
      checkout({ metadata: { credits: '501' } }),
      500,
      {
        ok: false,
        reason: 'invalid_credits',
        detail: '501 credits (metadata rule) is over maxCreditsPerPayment (500)',
      },
    ],
    [
      'prices over the cap',
      checkout({ lineItems: packItems }),
      500,
      { ok: false, reason: 'invalid_credits', detail: '600 credits (prices rule) is over maxCreditsPerPayment (500)' },
    ],
    ['prices at the cap', checkout({ lineItems: packItems }), 600, { ok: true, credits: 600, rule: 'prices' }],
    [
      'amount over the cap',
      checkout({ amountTotal: 501 }),
      500,
      {
        ok: false,
        reason: 'invalid_credits',
        detail: '501 credits (unit_amount rule) is over maxCreditsPerPayment (500)',
      },
    ],
    ['amount at the cap', checkout({ amountTotal: 500 }), 500, { ok: true, credits: 500, rule: 'unit_amount' }],
  ])('%s', (_name, p, max, expected) => {
    expect(credits(p, cfg, max)).toEqual(expected);
  });
});

describe('needsLineItems', () => {
  const withPrices = creditsConfig({ prices: { price_pack: 50 } });
  it.each<[string, Payment, CreditsConfig, boolean]>([
    ['session, price map, no metadata', checkout({}), withPrices, true],
    ['session, price map, metadata on session', checkout({ metadata: { credits: '5' } }), withPrices, false],
    ['session, price map, metadata on PI', checkout({}, { metadata: { credits: '5' } }), withPrices, false],
    ['session, invalid metadata still decides', checkout({ metadata: { credits: 'x' } }), withPrices, false],
    ['session, empty price map', checkout({}), creditsConfig(), false],
    ['standalone PaymentIntent', standalone({}), withPrices, false],
  ])('%s -> %s', (_name, p, cfg, expected) => {
    expect(needsLineItems(p, cfg)).toBe(expected);
  });
});

describe('amountPaid', () => {
  it.each<[string, Payment, { amount: number | null; currency: string | null }]>([
    [
      'session: amount_total',
      checkout({ amountTotal: 700, currency: 'eur' }, { amount: 900, amountReceived: 800 }),
      { amount: 700, currency: 'eur' },
    ],
    ['session without PI', checkout({ amountTotal: 0 }, null), { amount: 0, currency: 'usd' }],
    [
      'standalone: amount_received',
      standalone({ amount: 900, amountReceived: 800, currency: 'gbp' }),
      { amount: 800, currency: 'gbp' },
    ],
  ])('%s', (_name, p, expected) => {
    expect(amountPaid(p)).toEqual(expected);
  });
});

describe('amountTooLow: credits.minAmountPerCredit', () => {
  const floor = creditsConfig({ unitAmountPerCredit: { usd: 10 }, minAmountPerCredit: { usd: 5, eur: 4 } });
  const byMetadata = (n: number) => ({ credits: n, rule: 'metadata' as const });

  it.each<[string, Payment, { credits: number; rule: 'metadata' | 'prices' | 'unit_amount' }, CreditsConfig, boolean]>([
    [
      '1 cent for 5000 credits',
      standalone({ amount: 1, amountReceived: 1, metadata: { credits: '5000' } }),
      byMetadata(5000),
      floor,
      true,
    ],
    [
      '100% coupon: amount_total 0 for 1000 credits',
      checkout({ amountTotal: 0, paymentStatus: 'no_payment_required' }, null),
      byMetadata(1000),
      floor,
      true,
    ],
    ['one minor unit short of the floor', checkout({ amountTotal: 499 }), byMetadata(100), floor, true],
    ['exactly the floor', checkout({ amountTotal: 500 }), byMetadata(100), floor, false],
    ['above the floor', checkout({ amountTotal: 1000 }), byMetadata(100), floor, false],
    ['by the price map', checkout({ amountTotal: 100 }), { credits: 1000, rule: 'prices' }, floor, true],
    [
      'the amount rule is not checked',
      checkout({ amountTotal: 1000 }),
      { credits: 1000, rule: 'unit_amount' },
      floor,
      false,
    ],
    ['its own currency floor', checkout({ amountTotal: 399, currency: 'eur' }), byMetadata(100), floor, true],
    ['currency compared in lower case', checkout({ amountTotal: 1, currency: 'USD' }), byMetadata(100), floor, true],
    ['a currency absent from the map', checkout({ amountTotal: 1, currency: 'gbp' }), byMetadata(5000), floor, false],
    ['no amount', checkout({ amountTotal: null }), byMetadata(5000), floor, false],
    ['0 credits', checkout({ amountTotal: 0 }), byMetadata(0), floor, false],
    ['off: {}', standalone({ amountReceived: 1 }), byMetadata(5000), creditsConfig({ minAmountPerCredit: {} }), false],
    ['off: not set', standalone({ amountReceived: 1 }), byMetadata(5000), creditsConfig(), false],
    [
      'a standalone PaymentIntent: amount_received, not amount',
      standalone({ amount: 50_000, amountReceived: 1 }),
      byMetadata(5000),
      floor,
      true,
    ],
  ])('%s -> %s', (_name, p, given, cfg, expected) => {
    expect(amountTooLow(p, given, cfg)).toBe(expected);
  });

  it('does not look up floors inherited from Object.prototype', () => {
    expect(amountTooLow(checkout({ amountTotal: 0, currency: 'constructor' }), byMetadata(10), floor)).toBe(false);
  });
});
