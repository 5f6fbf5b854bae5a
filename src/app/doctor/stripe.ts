import { keyIsLive, type Settings } from '../../config.js';
import { CliError, StripeAuthError, StripeUnavailableError, maskKey } from '../../errors.js';
import { createStripeClient } from '../../stripe/client.js';
import { StripeReader } from '../../stripe/reader.js';
import { DEFAULT_RETRY } from '../../stripe/retry.js';
import type { Findings } from './findings.js';

interface Probe {
  check: string;
  list: Parameters<StripeReader['probe']>[0];
  permission: string;
  what: string;
  why: string;
  /** Whether the tool needs it under this config (default: always). */
  needed?: (settings: Settings) => boolean;
}

/** One cheap request per permission the tool needs (README, "The first run on a real account"). */
const PROBES: Probe[] = [
  {
    check: 'stripe.checkout_sessions',
    list: 'checkout_sessions',
    permission: 'Checkout Sessions: Read',
    what: 'list Checkout Sessions',
    why: 'every run lists them',
  },
  {
    check: 'stripe.payment_intents',
    list: 'payment_intents',
    permission: 'PaymentIntents: Read',
    what: 'list PaymentIntents',
    why: 'every run lists them',
  },
  {
    check: 'stripe.charges',
    list: 'charges',
    permission: 'Charges: Read',
    what: 'read Charges',
    why: "a PaymentIntent's charge shows whether it was refunded",
  },
  {
    check: 'stripe.invoice_payments',
    list: 'invoice_payments',
    permission: 'Invoices: Read',
    what: 'list InvoicePayments',
    why: 'they tell whether a PaymentIntent pays an invoice',
  },
  {
    check: 'stripe.events',
    list: 'events',
    permission: 'Events: Read',
    what: 'list Events',
    why: 'incremental runs (no --since) read what changed since the last run',
  },
  {
    check: 'stripe.refunds',
    list: 'refunds',
    permission: 'Refunds: Read',
    what: 'list Refunds',
    why: 'runs read the refunds of credited payments to take their credits back (reversals.refunds is not "ignore")',
    needed: (s) => s.config.reversals.refunds !== 'ignore',
  },
  {
    check: 'stripe.disputes',
    list: 'disputes',
    permission: 'Disputes: Read',
    what: 'list Disputes',
    why: 'runs read the disputes of credited payments to take their credits back (reversals.disputes is not "ignore")',
    needed: (s) => s.config.reversals.disputes !== 'ignore',
  },
];

/** The probes this config needs: the refund and dispute reads only where their policy is not `ignore`. */
const probesFor = (settings: Settings): Probe[] => PROBES.filter((p) => p.needed?.(settings) ?? true);

/** The Stripe key: its kind and mode, each permission the tool needs, and its mode against the ledger's payments. */
export async function checkStripe(
  settings: Settings,
  env: NodeJS.ProcessEnv,
  modes: Set<boolean>,
  f: Findings,
): Promise<void> {
  const key = keyFinding(settings, env, f);
  if (key === null) return;
  const reader = new StripeReader(
    createStripeClient({ apiKey: key, apiBase: settings.stripeApiBase, timeoutMs: 10_000 }),
    { ...DEFAULT_RETRY, budgetMs: Math.min(settings.retryBudgetMs, 10_000) },
    maskKey(key),
  );
  for (const probe of probesFor(settings)) {
    if ((await probeFinding(reader, probe, key, settings, f)) === 'stop') break;
  }
  modeFinding(keyIsLive(key), modes, f);
}

/** The key, with a finding on its kind; null when there is none to check. */
function keyFinding(settings: Settings, env: NodeJS.ProcessEnv, f: Findings): string | null {
  if (!env.STRIPE_API_KEY?.trim() && !env.STRIPE_API_KEY_FILE) {
    f.warn(
      'stripe.key',
      'no Stripe key (STRIPE_API_KEY or STRIPE_API_KEY_FILE): the key and its permissions are not checked, and reconcile needs one',
      'set STRIPE_API_KEY_FILE to a file holding a restricted key with the read permissions the README lists ("The first run on a real account"), then run doctor again',
    );
    return null;
  }
  let key: string;
  try {
    key = settings.stripeApiKey();
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    f.fail('stripe.key', e.message, e.hint ?? 'set STRIPE_API_KEY or STRIPE_API_KEY_FILE to a restricted key (rk_…)');
    return null;
  }
  const live = keyIsLive(key);
  const restricted = key.startsWith('rk_');
  const kindLine = `${maskKey(key)}: a ${restricted ? 'restricted' : 'secret'} key, ${live ? 'live' : 'test'} mode`;
  if (live && !restricted) {
    f.warn(
      'stripe.key',
      `${kindLine}: it can do anything on the account, and the tool only reads`,
      `a restricted read-only key is enough and safer: create one with ${probesFor(settings)
        .map((p) => `"${p.permission}"`)
        .join(', ')} and nothing else`,
    );
  } else f.ok('stripe.key', kindLine);
  return key;
}

/**
 * Makes one probe and reports what Stripe answered. A rejected key or an unreachable Stripe ends
 * the probing ('stop'); a refused permission does not, so that every missing one is named.
 */
async function probeFinding(
  reader: StripeReader,
  probe: Probe,
  key: string,
  settings: Settings,
  f: Findings,
): Promise<'next' | 'stop'> {
  try {
    await reader.probe(probe.list, probe.what);
    f.ok(probe.check, `${probe.what}: answered (${probe.permission})`);
    return 'next';
  } catch (e) {
    if (e instanceof StripeAuthError && (e.cause as { statusCode?: number } | undefined)?.statusCode === 401) {
      f.fail('stripe.key', e.message, e.hint ?? null);
      return 'stop';
    }
    if (e instanceof StripeAuthError) {
      const stripeName = /Having the '([^']+)' permission/.exec((e.cause as Error | undefined)?.message ?? '')?.[1];
      f.fail(
        probe.check,
        `${probe.what}: refused (HTTP 403${stripeName ? `, Stripe names ${stripeName}` : ''}): the key lacks "${probe.permission}", and ${probe.why}`,
        key.startsWith('rk_')
          ? `give the key "${probe.permission}" (Dashboard → Developers → API keys → edit ${maskKey(key)})`
          : 'use a restricted key with the read permissions the README lists ("The first run on a real account")',
      );
      return 'next';
    }
    if (e instanceof StripeUnavailableError) {
      f.fail(
        'stripe',
        `cannot reach Stripe at ${settings.stripeApiBase}: ${e.message}`,
        'check the network, and STRIPE_API_BASE / --stripe-api-base if set; then run doctor again',
      );
      f.toolFailed = true;
      return 'stop';
    }
    if (e instanceof CliError) {
      f.fail(probe.check, e.message, null);
      return 'next';
    }
    throw e;
  }
}

/** Test and live payments never mix in one ledger. */
function modeFinding(live: boolean, modes: Set<boolean>, f: Findings): void {
  const mode = live ? 'live' : 'test';
  if (modes.has(!live)) {
    const other = live ? 'test' : 'live';
    f.fail(
      'stripe.mode',
      `the key is a ${mode}-mode key, but the ledger holds ${other}-mode payments: test and live never mix in one ledger (reconcile refuses with exit 2)`,
      live
        ? "point --db at the live app's database, or use a test key with this one"
        : "point --db at the test app's database, or use a live key with this one",
    );
  } else if (modes.size > 0) {
    f.ok('stripe.mode', `the ledger's payments are ${mode}-mode, like the key`);
  }
}
