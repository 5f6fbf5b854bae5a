/**
 * Money as people read it, for every edge (the CLI's tables, the console's pages): one place, so
 * a zero-decimal currency (JPY, KRW…) is never shown divided by 100 in one of them.
 */

const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);

/** Minor units → "12.34 USD" (integer arithmetic: money is never a float here). */
export function formatAmount(amount: number | null, currency: string | null): string {
  if (amount === null || currency === null) return '';
  const cur = currency.toUpperCase();
  if (ZERO_DECIMAL.has(currency.toLowerCase())) return `${amount} ${cur}`;
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')} ${cur}`;
}
