import type { LedgerMapping, SqlConstant } from '../../config.js';
import type { TableInfo } from '../../ledger/introspect.js';

/** The app's table the ledger is mapped onto, with what the mapping writes into it. */
export interface Mapped {
  L: LedgerMapping;
  t: TableInfo;
  /** The table as the config names it. */
  label: string;
  /** The id the tool writes: `PaymentIntent` or `Checkout Session`. */
  refWord: string;
  /** The mapped columns, each with the config key that names it. */
  mapped: Array<[string, string]>;
  /** `ledger.set`, and `ledger.setManual` when it differs, each with its config key. */
  constants: Array<[string, Record<string, SqlConstant>]>;
  /** `set` and `setManual` are the same: every insert writes the same constants. */
  sameManual: boolean;
}
