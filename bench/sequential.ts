/**
 * The baseline: what a plain script would do. Auto-paginate Checkout Sessions (then PaymentIntents)
 * one page at a time, and for every payment query the users table and the ledger and insert, each
 * with a statement prepared for that row. Run as its own process by bench/run.ts.
 */
import Stripe from 'stripe';
import SQLite from 'better-sqlite3';
import { STRIPE_API_VERSION } from '../src/stripe/client.js';

const [apiBase, dbPath, sinceArg, untilArg] = process.argv.slice(2);
const since = Number(sinceArg);
const until = Number(untilArg);
const url = new URL(apiBase!);
const stripe = new Stripe(process.env.STRIPE_API_KEY!, {
  apiVersion: STRIPE_API_VERSION,
  host: url.hostname,
  port: Number(url.port),
  protocol: url.protocol === 'http:' ? 'http' : 'https',
  maxNetworkRetries: 3,
});
const db = new SQLite(dbPath!);
db.exec('CREATE TABLE IF NOT EXISTS naive_ledger (payment_key TEXT PRIMARY KEY, user_id TEXT, credits INTEGER)');

let credited = 0;
const sessionIntents = new Set<string>();
for await (const s of stripe.checkout.sessions.list({
  status: 'complete',
  created: { gte: since - 86400, lt: until },
  limit: 100,
  expand: ['data.payment_intent.latest_charge'],
})) {
  const pi = typeof s.payment_intent === 'object' ? s.payment_intent : null;
  if (pi) sessionIntents.add(pi.id);
  if (s.mode !== 'payment' || s.payment_status !== 'paid' || !pi || pi.created < since || pi.created >= until) continue;
  const user = db.prepare('SELECT id FROM users WHERE id = ?').get(s.client_reference_id) as { id: number } | undefined;
  if (!user) continue;
  if (db.prepare('SELECT 1 FROM naive_ledger WHERE payment_key = ?').get(pi.id)) continue;
  db.prepare('INSERT INTO naive_ledger (payment_key, user_id, credits) VALUES (?, ?, ?)').run(
    pi.id,
    String(user.id),
    Number(s.metadata?.credits ?? 0),
  );
  credited += 1;
}
let standalone = 0;
for await (const pi of stripe.paymentIntents.list({
  created: { gte: since, lt: until },
  limit: 100,
  expand: ['data.latest_charge'],
})) {
  if (!sessionIntents.has(pi.id) && pi.status === 'succeeded') standalone += 1;
}
db.close();
process.stdout.write(`${JSON.stringify({ credited, standalone })}\n`);
