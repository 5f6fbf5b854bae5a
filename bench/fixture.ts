import { writeFileSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { spread, type Shape } from './shapes.js';

/**
 * A bench scenario: N paid Checkout Sessions (each with its PaymentIntent) spread over `days` (by
 * `shape`: evenly unless told);
 * and, with `invoicePayments`, that many subscription payments (a PaymentIntent paying an
 * invoice each) spread over the same days but the last 26 hours (old enough that under "all" the
 * InvoicePayments listed decide them with no request of their own).
 */
export function writeFixture(
  path: string,
  opts: { sessions: number; until: number; days: number; users: number; invoicePayments?: number; shape?: Shape },
): void {
  const span = opts.days * 86400;
  const checkoutPayments = [];
  const paidTimes = spread(opts.shape ?? 'even', opts.sessions, opts.until - 60 - span, opts.until - 60);
  for (let i = 0; i < opts.sessions; i++) {
    const paidAt = paidTimes[i]!;
    checkoutPayments.push({
      created: paidAt - 120,
      paidAt,
      clientReferenceId: String((i % opts.users) + 1),
      metadata: { credits: String((i % 9) + 1) },
      amount: 1000,
      email: `user${(i % opts.users) + 1}@example.com`,
      livemode: true,
    });
  }
  const paymentIntents = [];
  const n = opts.invoicePayments ?? 0;
  const oldSpan = span - 26 * 3600;
  for (let i = 0; i < n; i++) {
    paymentIntents.push({
      created: opts.until - 26 * 3600 - Math.floor(((i + 0.5) * oldSpan) / n),
      amount: 900,
      invoice: true,
      livemode: true,
    });
  }
  writeFileSync(path, JSON.stringify({ checkoutPayments, paymentIntents }));
}

/** The app's database: a users table of `users` rows. */
export function writeAppDb(path: string, users: number): void {
  const db = new SQLite(path);
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT)');
  const insert = db.prepare('INSERT INTO users (id, email, name) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= users; i++) insert.run(i, `user${i}@example.com`, `User ${i}`);
  })();
  db.close();
}
