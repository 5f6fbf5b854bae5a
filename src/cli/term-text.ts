/**
 * Text from Stripe or from the app's users (names, emails, ids, metadata, reasons) printed for a
 * person. Printed raw, an ESC starts a terminal command (clear the screen, an OSC-8 link, a title),
 * a carriage return or newline forges a line, and a bidi override makes text read backwards. Such
 * characters are shown escaped instead: C0 controls, DEL, C1 controls, and the bidi embeddings,
 * overrides and isolates. `--json` output needs none of this (JSON.stringify escapes what JSON must).
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point: they are escaped
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same, but a newline stays: for text already laid out in lines (a table, a stack trace). */
// eslint-disable-next-line no-control-regex -- the same characters, the newline aside
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One value on one line: every control character escaped (ESC as \x1b, CR as \r, newline as \n, U+202E as \u202e). */
export function termText(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/** Text laid out in lines: every control character but the newline escaped. */
export function termLines(s: string): string {
  return s.replace(UNSAFE_BUT_NEWLINE, escapeChar);
}

/**
 * A stream whose string writes go through termLines: the last guard for human-readable output, so
 * that a value a renderer did not escape still cannot drive the terminal. Everything else (events,
 * isTTY, columns) is the stream's own.
 */
export function termSafeStream<T extends NodeJS.WritableStream>(stream: T): T {
  return new Proxy(stream, {
    get(target, prop) {
      if (prop === 'write') {
        return (chunk: unknown, ...rest: unknown[]) =>
          (target.write as (...a: unknown[]) => boolean).call(
            target,
            typeof chunk === 'string' ? termLines(chunk) : chunk,
            ...rest,
          );
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
