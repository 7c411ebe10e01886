import type { Operation } from './records.ts';
import type { Row, TableStore } from './store.ts';
import type { Vault } from './vault.ts';
import type { Webhooks } from './webhooks.ts';

/**
 * Runs the one business rule the sandbox understands: Ticketloop's (docs/servicenow-business-rule.js),
 * recognised by the marker comment in its script. The sandbox does not execute JavaScript; it does
 * what that script does. For each active `sys_script` row on the changed table whose script carries
 * the marker, whose `action_<operation>` is true and whose condition holds, it reads the properties
 * `x_ticketloop.webhook_url` and `x_ticketloop.webhook_secret` (password2, decrypted as
 * `gs.getProperty` does) and posts the change, HMAC-signed as that version of the script signs,
 * through the webhook delivery code.
 *
 * Conditions: empty (always), or the recommended `current.correlation_id.startsWith('<prefix>')`
 * (case-sensitive, like JavaScript). Any other condition is not evaluated and the rule does not
 * fire. `display` rules never fire on writes; before/after/async rules all fire (asynchronously:
 * the Table API answer does not wait, where a real "after" rule holds the transaction).
 */

export const RULE_MARKER = /Ticketloop business rule v(\d+)/;
export const URL_PROPERTY = 'x_ticketloop.webhook_url';
export const SECRET_PROPERTY = 'x_ticketloop.webhook_secret';

const STARTS_WITH = /^\s*current\.correlation_id\.startsWith\(\s*(['"])((?:\\.|(?!\1)[^\\])*)\1\s*\)\s*;?\s*$/;

/** Whether a rule's condition holds for the row; undefined when the sandbox cannot evaluate it. */
export function conditionHolds(condition: string, row: Row): boolean | undefined {
  if (condition.trim() === '') return true;
  const m = STARTS_WITH.exec(condition);
  if (!m) return undefined;
  const prefix = m[2].replace(/\\(.)/g, '$1');
  return (row.correlation_id ?? '').startsWith(prefix);
}

export class BusinessRules {
  constructor(
    private readonly store: TableStore,
    private readonly vault: Vault,
    private readonly webhooks: Webhooks,
  ) {}

  private property(name: string): Row | undefined {
    return this.store.rows('sys_properties').find((p) => p.name === name);
  }

  /** Change listener (Records.listeners). */
  readonly onChange = (table: string, operation: Operation, row: Row): void => {
    const rules = this.store
      .rows('sys_script')
      .filter(
        (r) =>
          r.collection === table &&
          r.active === 'true' &&
          r.when !== 'display' &&
          r[`action_${operation}`] === 'true' &&
          RULE_MARKER.test(r.script) &&
          conditionHolds(r.condition, row) === true,
      );
    if (rules.length === 0) return;
    const url = this.property(URL_PROPERTY)?.value;
    const secretRow = this.property(SECRET_PROPERTY);
    const secret = secretRow?.type === 'password2' ? this.vault.decrypt(secretRow.value) : secretRow?.value;
    // The script logs a warning and returns when either property is empty.
    if (!url || !secret || !/^https?:\/\//.test(url)) return;
    // Each installed rule makes its own call, as two rules on one table would — signed the way its
    // version's script signs (v1: the body alone; v2: timestamp and body).
    for (const rule of rules) {
      this.webhooks.deliver(
        { table, url, events: [operation], auth: { type: 'hmac', secret } },
        table,
        operation,
        row,
        'business_rule',
        Number(RULE_MARKER.exec(rule.script)![1]),
      );
    }
  };
}
