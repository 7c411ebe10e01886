/**
 * What connection checks ("Test setup") and setup commands report. `ticketloop doctor` and the
 * start-up check print CheckResults; `ticketloop setup <thing>` prints SetupSteps. Adapters and
 * flows produce them; this file is types only so every layer may use it.
 */

/** One finding: what was checked on which connection, whether it passed, and the fix. */
export interface CheckResult {
  /** The connection or integration checked: "ServiceNow prod", "Microsoft Graph", "defender prod-subs". */
  target: string;
  /** What was checked: "sign-in", "table incident", "incident resolve close-out". */
  check: string;
  ok: boolean;
  /** What was found, e.g. "401 for the OAuth client 'abc'". */
  detail: string;
  /** What to do about it (failures only), e.g. "check the client secret". */
  fix?: string;
}

/** One step of a setup command. Re-running a setup reports every step `unchanged`. */
export interface SetupStep {
  what: string;
  outcome: 'unchanged' | 'created' | 'updated' | 'manual' | 'failed';
  /** Details; for `manual`, the instructions. */
  detail?: string;
}
