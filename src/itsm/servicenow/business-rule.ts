/**
 * The ServiceNow business rule that pushes ticket changes to Ticketloop, as installed by
 * `ticketloop setup servicenow` (setup.ts). This module is the source of truth:
 * docs/servicenow-business-rule.js is a copy for people who install it by hand, and
 * test/servicenow/business-rule.test.ts keeps the two identical. The wire format it sends is the
 * one webhook.ts receives.
 */

/** The first line of the script; a rule carrying it is Ticketloop's (and says which version). */
export const BUSINESS_RULE_MARKER = 'Ticketloop business rule v2';

/** The system properties the script reads (gs.getProperty). */
export const URL_PROPERTY = 'x_ticketloop.webhook_url';
export const SECRET_PROPERTY = 'x_ticketloop.webhook_secret';

/** Where people find the script to install it by hand. */
export const BUSINESS_RULE_DOC = 'docs/servicenow-business-rule.js';

/** The rule's name on a table: one rule per watched table. */
export function businessRuleName(table: string): string {
  return `Ticketloop webhook (${table})`;
}

/** The recommended condition: only tickets whose correlation id carries Ticketloop's prefix. */
export function businessRuleCondition(prefix: string): string {
  return `current.correlation_id.startsWith('${prefix.replace(/[\\']/g, (c) => '\\' + c)}')`;
}

// Kept ES5 (ServiceNow's script engine may be): no trailing commas in calls, no arrow functions.
export const BUSINESS_RULE_SCRIPT = `/*
 * Ticketloop business rule v2 — pushes ticket changes from ServiceNow to Ticketloop.
 *
 * 'ticketloop setup servicenow' installs it (one rule per watched table, named
 * "Ticketloop webhook (<table>)") together with the two properties below, when its account has the
 * admin role. By hand: System Definition → Business Rules → New, on each table Ticketloop tracks
 * (incident, change_request, problem, sc_req_item, sc_task), with this whole text as the script:
 *
 *   When: after        Insert: ✓  Update: ✓  Delete: ✓        Advanced: ✓
 *   Condition (recommended, keeps the traffic to tickets Ticketloop opened):
 *     current.correlation_id.startsWith('tl:')     — or whatever prefix your correlation ids use
 *   Application scope: Global (GlideStringUtil and GlideCertificateEncryption are global APIs).
 *
 * What you need on the instance:
 *   1. A system property 'x_ticketloop.webhook_url' (type string): Ticketloop's public URL followed by
 *      /webhooks/servicenow/<connection name>, e.g. https://ticketloop.example.com/webhooks/servicenow/prod
 *   2. A system property 'x_ticketloop.webhook_secret' of type password2 holding the shared HMAC secret
 *      (the same value as the connection's webhook.secret in Ticketloop). Never paste the secret into this script.
 *   3. Outbound HTTPS from the instance (or a MID server: uncomment setMIDServer below) to Ticketloop.
 *
 * The first line names the version; Ticketloop's setup recognises its own rule by it. This file is a
 * copy of src/itsm/servicenow/business-rule.ts (a test keeps them identical). v2 signs a timestamp with
 * the body; Ticketloop refuses v1's body-only signatures, so re-run 'ticketloop setup servicenow' (or
 * paste this script again) when upgrading.
 *
 * Wire format (identical to what the Ticketloop sandbox sends):
 *   POST <webhook_url>
 *   Content-Type: application/json
 *   X-Sn-Timestamp: <unix seconds when sent>
 *   X-Sn-Signature: sha256=<lower-case hex HMAC-SHA256 of "<timestamp>.<exact raw body>", keyed with the secret>
 *   {"table":"incident","operation":"insert|update|delete","sys_id":"<32 hex>","record":{<field>:"<string value>",…}}
 * Values are raw (not display) values as strings; reference fields are plain sys_ids; dates are UTC
 * "YYYY-MM-DD HH:MM:SS" — the same as the Table API with sysparm_exclude_reference_link=true.
 *
 * Ticketloop answers 202 once it has stored the change, 401 on a bad signature or a timestamp more than
 * 5 minutes from its clock (keep the instance's and Ticketloop's clocks right). Polling and a periodic
 * reconcile remain the backstop, so a lost call is caught later rather than never.
 *
 * An "after" rule (not "async") is used because async rules may run out of order under rapid updates
 * (ServiceNow business-rule docs). The HTTP call is bounded by setHttpTimeout so a slow receiver cannot
 * hold the user's transaction for long; executeAsync() is the alternative if that matters more than order.
 */
(function executeRule(current, previous /* null when async */) {
  var url = gs.getProperty('x_ticketloop.webhook_url');
  var secret = gs.getProperty('x_ticketloop.webhook_secret');
  if (!url || !secret) {
    gs.warn('Ticketloop webhook: x_ticketloop.webhook_url or x_ticketloop.webhook_secret is not set');
    return;
  }

  var operation = current.operation(); // 'insert' | 'update' | 'delete'
  var record = {};
  var names = new GlideRecordUtil().getFields(current); // every field name on the record
  for (var i = 0; i < names.length; i++) {
    var value = current.getValue(names[i]);
    record[names[i]] = value === null ? '' : String(value);
  }
  var body = JSON.stringify({
    table: current.getTableName(),
    operation: operation,
    sys_id: current.getUniqueValue(),
    record: record,
  });

  // The signature covers the time of sending, so a captured call cannot be replayed later.
  var timestamp = String(Math.floor(new GlideDateTime().getNumericValue() / 1000)); // unix seconds (UTC)

  // HMAC-SHA256: GlideCertificateEncryption.generateMac takes the key base64-encoded and returns the
  // MAC base64-encoded; convert it to lower-case hex for the header.
  var keyB64 = GlideStringUtil.base64Encode(secret);
  var macB64 = new GlideCertificateEncryption().generateMac(keyB64, 'HmacSHA256', timestamp + '.' + body);
  var bytes = GlideStringUtil.base64DecodeAsBytes(macB64);
  var hex = '';
  for (var j = 0; j < bytes.length; j++) {
    var b = (bytes[j] & 0xff).toString(16);
    hex += b.length < 2 ? '0' + b : b;
  }

  try {
    var rm = new sn_ws.RESTMessageV2();
    rm.setEndpoint(url);
    rm.setHttpMethod('post');
    rm.setRequestHeader('Content-Type', 'application/json');
    rm.setRequestHeader('Accept', 'application/json');
    rm.setRequestHeader('X-Sn-Timestamp', timestamp);
    rm.setRequestHeader('X-Sn-Signature', 'sha256=' + hex);
    rm.setRequestBody(body); // the exact string that was signed (after the timestamp and '.')
    rm.setHttpTimeout(10000);
    // rm.setMIDServer('<mid server name>');
    var res = rm.execute();
    var status = res.getStatusCode();
    if (status !== 202 && status !== 200) {
      gs.warn('Ticketloop webhook: ' + operation + ' ' + current.getDisplayValue() + ' → HTTP ' + status + ' ' + res.getErrorMessage());
    }
  } catch (e) {
    // Never block the ticket update because Ticketloop is down; polling will catch the change.
    gs.warn('Ticketloop webhook failed: ' + e);
  }
})(current, previous);
`;
