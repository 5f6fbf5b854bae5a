// app/api/stripe/webhook/route.ts — a Next.js App Router route handler. The same code serves any
// framework whose handlers take a Web Request and return a Response (Remix, SvelteKit, Hono, Astro).
import { createStripeCredits, WebhookSignatureError } from 'stripe-credits';

export const runtime = 'nodejs'; // better-sqlite3 and pg need Node.js, not the Edge runtime

const credits = createStripeCredits({
  db: process.env.DATABASE_URL ?? 'data/app.db', // the app's database, as --db
  stripeApiKey: process.env.STRIPE_API_KEY!,
  stripeApiBase: process.env.STRIPE_API_BASE, // unset in production: api.stripe.com
  config: 'stripe-credits.config.json', // or the config object itself
});

export async function POST(req: Request): Promise<Response> {
  // The signature covers the exact bytes Stripe sent: read the raw body, never parsed JSON.
  const body = Buffer.from(await req.arrayBuffer());
  try {
    const item = await credits.handleWebhook(
      body,
      req.headers.get('stripe-signature') ?? '',
      process.env.STRIPE_WEBHOOK_SECRET!,
    );
    return Response.json({ received: true, status: item?.status ?? 'ignored' });
  } catch (e) {
    // A bad signature is the sender's fault: 400. Anything else: 500, and Stripe retries later.
    if (e instanceof WebhookSignatureError) return new Response(e.message, { status: 400 });
    console.error(e);
    return new Response('not credited yet; retry later', { status: 500 });
  }
}
