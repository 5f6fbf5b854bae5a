/**
 * Masking of database locations for messages. A location is whatever `--db` / DATABASE_URL holds,
 * well-formed or not: a URL whose password holds `#`, `/`, `?` or `@`, a libpq keyword string
 * (`host=… password=…`), a `jdbc:` URL. Where it is unclear what belongs to the password, more is
 * masked rather than less.
 */

/** A key whose value is a secret: password, passwd, pwd, and names ending in them (sslpassword, db_password). */
const SECRET_KEY = '[A-Za-z0-9_.-]*(?:password|passwd|pwd)';
/** A quoted value (libpq: '…' with \' inside; an unterminated quote runs to the end). */
const QUOTED = String.raw`'(?:[^'\\]|\\[\s\S])*'?|"(?:[^"\\]|\\[\s\S])*"?`;
/** In a query string the value ends at `&`; anywhere else (a keyword string, a sentence) at whitespace. */
const QUERY_VALUE = new RegExp(`([?&]${SECRET_KEY}\\s*=\\s*)(?:${QUOTED}|[^&\\s]*)`, 'gi');
const KEYWORD_VALUE = new RegExp(`((?:^|[^A-Za-z0-9_.?&-])${SECRET_KEY}\\s*=\\s*)(?:${QUOTED}|\\S*)`, 'gi');
/**
 * The userinfo of anything URL-ish: after `//`, a user (which may hold `@`, an unencoded email),
 * a colon, and everything up to the last `@` of the same run of non-space characters, since a
 * password may hold `@`, `/`, `?` or `#` unencoded.
 */
const USERINFO = /(\/\/[^\s/?#:]*):\S*@/g;

/**
 * Replaces every password-like part of a text with ***: the password of any `scheme://user:PASSWORD@`
 * in it, and every `password=`, `pwd=`, `passwd=` value (quoted or not). Works on any text, a
 * driver's error message included: every message that shows a database location goes through here.
 */
export function maskDbUrl(text: string): string {
  return text.replace(USERINFO, '$1:***@').replace(QUERY_VALUE, '$1***').replace(KEYWORD_VALUE, '$1***');
}

/** Literal secrets shorter than this are left to the patterns: replacing "db" everywhere would mangle every message. */
const MIN_LITERAL = 4;

/**
 * The secrets a database location holds, as they may be echoed: the password of its userinfo
 * (everything from the first colon after `://` to the last `@` of the whole string, so that a
 * password holding spaces counts too) and every password-like keyword value, each raw, without its
 * quotes and percent-decoded.
 */
export function locationSecrets(location: string | undefined): string[] {
  if (!location) return [];
  const found = new Set<string>();
  const add = (s: string | undefined) => {
    if (s === undefined) return;
    for (const v of [s, unquote(s), decode(s), decode(unquote(s))]) if (v.length >= MIN_LITERAL) found.add(v);
  };
  const userinfo = /\/\/[^/?#:]*:([\s\S]*)@/.exec(location);
  add(userinfo?.[1]);
  for (const m of location.matchAll(
    new RegExp(`(?:^|[^A-Za-z0-9_.-])${SECRET_KEY}\\s*=\\s*(${QUOTED}|[^&\\s]*)`, 'gi'),
  ))
    add(m[1]);
  // Longest first, so that a secret containing another is replaced whole.
  return [...found].sort((a, b) => b.length - a.length);
}

function unquote(s: string): string {
  const m = /^(['"])([\s\S]*?)\1?$/.exec(s);
  return m ? m[2]!.replace(/\\([\s\S])/g, '$1') : s;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Replaces each of the secrets, wherever it appears in the text, with ***. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

/** A database location as messages show it: masked by pattern, and its own secrets removed wherever they still appear. */
export function maskDbLocation(location: string, shown: string = location): string {
  return redactSecrets(maskDbUrl(shown), locationSecrets(location));
}
