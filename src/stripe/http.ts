import http from 'node:http';
import https from 'node:https';
import Stripe from 'stripe';

/** Why a request was cut: it took longer than its deadline in all (retried like a timeout). */
export class RequestDeadlineError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(deadlineMs: number) {
    super(`no complete answer within ${deadlineMs / 1000} s (STRIPE_CREDITS_REQUEST_SECONDS)`);
    this.name = 'RequestDeadlineError';
  }
}

const AGENTS = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
/** The SDK's own client's ciphers. */
const CIPHERS = 'DEFAULT:!aNULL:!eNULL:!LOW:!EXPORT:!SSLv2:!MD5';

/**
 * The SDK's Node HTTP client, plus an overall deadline. The SDK's `timeout` counts only silence, so a
 * server that sends a byte every few seconds would hold a request (and the run, and its lock) for
 * ever. Past the deadline the request is destroyed, answer or body half read, and the SDK reports a
 * connection error, which `withRetry` retries. An aborted `signal` destroys every request in flight.
 */
export class DeadlineHttpClient extends Stripe.HttpClient {
  constructor(
    private readonly deadlineMs: number,
    private readonly signal?: AbortSignal,
  ) {
    super();
  }

  override getClientName(): string {
    return 'node';
  }

  override makeRequest(
    host: string,
    port: string,
    path: string,
    method: string,
    headers: Record<string, string | number | string[]>,
    requestData: string,
    protocol: string,
    timeout: number,
  ): Promise<BodyResponse> {
    return new Promise((resolve, reject) => {
      if (this.signal?.aborted) return reject(this.signal.reason);
      const secure = protocol !== 'http';
      const agent = secure ? AGENTS.https : AGENTS.http;
      const req = (secure ? https : http).request({ host, port, path, method, agent, headers, ciphers: CIPHERS });
      let cutWith: Error | null = null;
      const cut = (e: Error) => {
        cutWith = e;
        req.destroy(e);
      };
      const onAbort = () => cut(this.signal!.reason instanceof Error ? this.signal!.reason : new Error('stopped'));
      const deadline = setTimeout(() => cut(new RequestDeadlineError(this.deadlineMs)), this.deadlineMs);
      const done = () => {
        clearTimeout(deadline);
        this.signal?.removeEventListener('abort', onAbort);
      };
      this.signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(timeout, () => cut(Stripe.HttpClient.makeTimeoutError()));
      req.on('response', (res) => {
        res.once('close', done);
        resolve(new BodyResponse(res, () => cutWith));
      });
      req.on('error', (e) => {
        done();
        reject(e);
      });
      req.end(requestData);
    });
  }
}

/** The SDK's Node response: the body read whole, a failure while reading it reported as the SDK expects. */
class BodyResponse extends Stripe.HttpClientResponse {
  constructor(
    private readonly res: http.IncomingMessage,
    /** Why the request was cut, if it was: the response only sees its socket go. */
    private readonly cutWith: () => Error | null,
  ) {
    super(res.statusCode ?? 0, res.headers as Record<string, string>);
  }

  override getRawResponse(): http.IncomingMessage {
    return this.res;
  }

  override toStream(streamCompleteCallback: () => void): NodeJS.ReadableStream {
    this.res.once('end', () => streamCompleteCallback());
    return this.res;
  }

  override toJSON(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let body = '';
      this.res.setEncoding('utf8');
      this.res.on('data', (chunk: string) => (body += chunk));
      // A request destroyed mid-body (its deadline, a stop) errors its response; one that closes
      // early without an error is a truncated body all the same.
      this.res.once('error', (e) => reject(Stripe.HttpClient.makeResponseBodyError(this.cutWith() ?? e)));
      this.res.once('close', () => {
        if (!this.res.complete) reject(Stripe.HttpClient.makeResponseBodyError(this.cutWith()));
      });
      this.res.once('end', () => {
        try {
          resolve(this._parseResponseBody(body));
        } catch (e) {
          reject(e);
        }
      });
    });
  }
}
