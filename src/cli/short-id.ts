/**
 * Ids in human-readable tables. A Checkout Session id runs to 66 characters and would stretch a
 * table to 180 columns, so a table shows such an id by its prefix, a few characters, an ellipsis and
 * its tail; `--json` and the hint lines a person copies keep the whole id. A PaymentIntent id (27
 * characters) and anything up to SHORT_ENOUGH stay whole.
 */

const SHORT_ENOUGH = 28;
const HEAD = 4;
const TAIL = 6;

/** `cs_live_a1B2c3…` (66 characters) → `cs_live_a1B2…x9Yz01`; shorter ids unchanged. */
export function shortId(id: string): string {
  if (id.length <= SHORT_ENOUGH) return id;
  // Stripe's prefix (`cs_live_`, `cs_test_`, `pi_`) stays whole: it says what the id is.
  const prefix = /^[a-z]{1,8}_(?:live_|test_)?/.exec(id)?.[0] ?? '';
  return `${id.slice(0, prefix.length + HEAD)}…${id.slice(-TAIL)}`;
}

/**
 * Shortens ids for one table and remembers which, so the output can list each shortened id in full
 * under the table: a person can still copy an id to `lookup`, `assign` or `review dismiss` it.
 */
export class ShortIds {
  private readonly full = new Map<string, string>();

  show(id: string): string {
    const s = shortId(id);
    if (s === id) return id;
    // Two ids alike at both ends would read as one: the second is shown whole.
    const known = this.full.get(s);
    if (known !== undefined && known !== id) return id;
    this.full.set(s, id);
    return s;
  }

  /** `Full ids:` and one line per shortened id, or nothing when no id was shortened. */
  legend(indent = ''): string[] {
    if (this.full.size === 0) return [];
    return [`${indent}Full ids:`, ...[...this.full].map(([s, id]) => `${indent}  ${s}  ${id}`)];
  }
}
