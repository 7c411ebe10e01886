import type { SetupStep } from '../../app/checks.ts';
import { resolveSecret } from '../../config/secrets.ts';
import { HttpError } from '../../engine/errors.ts';
import { hmacHex } from '../../http/auth.ts';
import type { ItsmSetupOptions } from '../port.ts';
import type { ServiceNowItsm } from './adapter.ts';
import { readRolesOrWhy, type Account } from './account-roles.ts';
import {
  BUSINESS_RULE_DOC,
  BUSINESS_RULE_SCRIPT,
  businessRuleCondition,
  businessRuleName,
  SECRET_PROPERTY,
  URL_PROPERTY,
} from './business-rule.ts';
import { str, type ServiceNowClient, type SnRecord } from './client.ts';
import type { ServiceNowConnection } from './config.ts';
import { diagnose, identity, type AuthLabel } from './diagnose.ts';
import { webhookPath } from './webhook.ts';
import { q } from './query.ts';

/**
 * `ticketloop setup servicenow` for one connection: verify (checkSetup on the watched tables),
 * read the account's roles, and install the push — the two system properties and one business
 * rule per watched table — when the account is admin. Every step compares before it writes, so a
 * second run reports `unchanged` and writes nothing. Without admin, or in a dry run, the steps
 * are `manual` and say exactly what to create. The webhook secret is never printed.
 */

export interface SetupContext {
  config: ServiceNowConnection;
  client: ServiceNowClient;
  /** The port, built with the watched tables (its checkSetup probes them). */
  itsm: ServiceNowItsm;
  auth: AuthLabel;
}

const TABLE = /^[a-z][a-z0-9_]*$/;
const PREFIX = /^[\x21-\x7e][\x20-\x7e]{0,39}$/; // printable ASCII, no leading space, no line break

/** One thing setup keeps in a wanted state on the instance. */
interface Item {
  what: string;
  table: 'sys_properties' | 'sys_script';
  /** The existing record, if any. */
  read(): Promise<SnRecord | undefined>;
  /** Fields to write, or undefined when the record is as wanted. */
  diff(current: SnRecord | undefined): Record<string, string> | undefined;
  /** Write the value in clear through sysparm_input_display_value (password2). */
  encrypted?: boolean;
  /** What a person does by hand to get the same. */
  instructions(create: boolean): string;
  /** Said after a write. */
  wrote?(create: boolean): string;
}

export async function setupServiceNow(s: SetupContext, o: ItsmSetupOptions): Promise<SetupStep[]> {
  const steps: SetupStep[] = [];
  const name = s.config.name;
  const kinds = [...new Set(o.kinds)];
  const prefix = o.correlationPrefix ?? 'tl:';
  const bad = kinds.filter((k) => !TABLE.test(k));
  if (bad.length || !PREFIX.test(prefix)) {
    const detail = bad.length
      ? `not table names: ${bad.map((k) => JSON.stringify(k)).join(', ')}`
      : `correlation prefix ${JSON.stringify(prefix)} must be 1–40 printable characters`;
    return [{ what: 'setup options', outcome: 'failed', detail }];
  }

  // 1. Verify: sign-in, tables, close-out choices. Nothing else can work if sign-in failed.
  const checks = await s.itsm.checkSetup();
  for (const c of checks)
    steps.push({
      what: `verify ${c.check}`,
      outcome: c.ok ? 'unchanged' : 'failed',
      detail: c.ok ? c.detail : `${c.detail}; fix: ${c.fix}`,
    });
  if (!checks.some((c) => c.check === 'sign-in' && c.ok)) return steps;

  // 2. The account's roles: itil for tickets, admin to install the business rule.
  const who = await readRolesSafely(s);
  const admin = who.roles?.includes('admin');
  steps.push(rolesStep(s, who));

  // 3. The push.
  const wh = s.config.webhook;
  const what = 'business-rule webhook';
  if (!wh) {
    steps.push({
      what,
      outcome: 'unchanged',
      detail: `not configured (servicenow.${name}.webhook): changes are polled. To have them pushed, set webhook: { type: hmac, secret } and run setup again`,
    });
    return steps;
  }
  if (wh.type !== 'hmac') {
    steps.push({
      what,
      outcome: 'manual',
      detail: `webhook type '${wh.type}': the shipped business rule (${BUSINESS_RULE_DOC}) signs its calls with HMAC and sends no ${wh.type === 'basic' ? 'Basic' : 'Bearer'} credentials. Use webhook: { type: hmac, secret } and run setup again, or adapt the rule to set the Authorization header and install it by hand`,
    });
    return steps;
  }
  const webhookUrl = o.publicUrl && `${o.publicUrl.replace(/\/+$/, '')}${webhookPath(name)}`;
  if (!webhookUrl || !/^https?:\/\/[^\s]+$/.test(webhookUrl)) {
    steps.push({
      what,
      outcome: 'manual',
      detail: `Ticketloop's public URL is not known, so ${URL_PROPERTY} cannot be set: set server.publicUrl (or --url) to where the instance reaches Ticketloop and run setup again`,
    });
    return steps;
  }

  const items = [
    urlProperty(s.client, webhookUrl),
    secretProperty(s.client, name, resolveSecret(wh.secret).reveal()),
    ...kinds.map((t) => rule(s.client, t, prefix)),
  ];
  // Reading and writing sys_properties / sys_script needs admin. When the roles are unknown, try.
  const mayRead = admin !== false;
  const why = !mayRead ? `${identity(s.auth)} is not admin, so setup cannot do it` : 'dry run: nothing written';
  for (const item of items) {
    if (!mayRead) {
      steps.push({ what: item.what, outcome: 'manual', detail: `${why}. ${item.instructions(true)}` });
      continue;
    }
    let current: SnRecord | undefined;
    let fields: Record<string, string> | undefined;
    try {
      current = await item.read();
      fields = item.diff(current);
    } catch (e) {
      steps.push(refused(s, item, e, true));
      continue;
    }
    if (!fields) {
      steps.push({ what: item.what, outcome: 'unchanged', detail: current ? 'present and as wanted' : undefined });
      continue;
    }
    const create = !current;
    if (o.dryRun) {
      steps.push({ what: item.what, outcome: 'manual', detail: `${why}. ${item.instructions(create)}` });
      continue;
    }
    try {
      const opts = { fields: ['sys_id'], inputDisplayValue: item.encrypted };
      if (current) await s.client.update(item.table, str(current.sys_id), fields, opts);
      else await s.client.create(item.table, fields, opts);
      steps.push({ what: item.what, outcome: create ? 'created' : 'updated', detail: item.wrote?.(create) });
    } catch (e) {
      steps.push(refused(s, item, e, create));
    }
  }
  return steps;
}

/** A read or write the instance refused: 403 → do it by hand; anything else → failed with its fix. */
function refused(s: SetupContext, item: Item, e: unknown, create: boolean): SetupStep {
  if (e instanceof HttpError && e.status === 403)
    return {
      what: item.what,
      outcome: 'manual',
      detail: `the instance refused (403: ${item.table} needs the admin role). ${item.instructions(create)}`,
    };
  const d = diagnose(e, {
    target: `ServiceNow ${s.config.name}`,
    check: item.what,
    instanceUrl: s.config.instanceUrl,
    auth: s.auth,
    table: item.table,
  });
  return { what: item.what, outcome: 'failed', detail: `${d.result.detail}; fix: ${d.result.fix}` };
}

// ---- roles ------------------------------------------------------------------------------------

function readRolesSafely(s: SetupContext): Promise<Account> {
  return readRolesOrWhy(s.client, s.auth, { target: `ServiceNow ${s.config.name}`, instanceUrl: s.config.instanceUrl });
}

function rolesStep(s: SetupContext, a: Account): SetupStep {
  const what = 'account roles';
  if (!a.roles)
    return {
      what,
      outcome: 'manual',
      detail: `${a.why}. Make sure the account has itil (Ticketloop opens and updates tickets), and admin if setup should install the business rule`,
    };
  const n = a.roles.length;
  const has = `user '${a.user}' has ${n ? `the role${n > 1 ? 's' : ''} ${a.roles.join(', ')}` : 'no roles'}`;
  const admin = a.roles.includes('admin');
  if (!admin && !a.roles.includes('itil'))
    return {
      what,
      outcome: 'manual',
      detail: `${has}; it needs itil to open and update tickets: grant it in ServiceNow (User Administration → Users → ${a.user} → Roles)`,
    };
  return {
    what,
    outcome: 'unchanged',
    detail: admin
      ? `${has}: enough for tickets and to install the business rule`
      : `${has}: enough for tickets; without admin the business rule is installed by hand (the steps follow)`,
  };
}

// ---- the items --------------------------------------------------------------------------------

async function first(client: ServiceNowClient, table: string, query: ReturnType<typeof q>, fields: string[]) {
  const page = await client.list(table, {
    query: query.orderBy('sys_created_on').orderBy('sys_id'),
    fields: ['sys_id', ...fields],
    pageSize: 1,
    noCount: true,
    excludeReferenceLink: true,
  });
  return page.records[0];
}

const PROPERTIES = 'System Properties (sys_properties.list → New)';

function urlProperty(client: ServiceNowClient, url: string): Item {
  const wanted = {
    name: URL_PROPERTY,
    type: 'string',
    value: url,
    description: 'Where the Ticketloop business rule posts ticket changes (set by ticketloop setup servicenow)',
  };
  return {
    what: `system property ${URL_PROPERTY}`,
    table: 'sys_properties',
    read: () => first(client, 'sys_properties', q().eq('name', URL_PROPERTY), ['value', 'type']),
    diff: (cur) => (cur && str(cur.value) === url && str(cur.type) === 'string' ? undefined : wanted),
    instructions: (create) =>
      `${create ? 'Create' : 'Set'} the system property ${URL_PROPERTY} in ${PROPERTIES}: type string, value ${url}`,
    wrote: () => `value ${url}`,
  };
}

/**
 * A password2 value cannot be read back to compare (it comes back encrypted, differently each
 * time). The description carries a fingerprint instead: 16 hex digits of an HMAC keyed with the
 * secret over a fixed text, which shows whether the stored secret is the configured one without
 * revealing it. A property without the matching fingerprint is rewritten once.
 */
function secretProperty(client: ServiceNowClient, name: string, secret: string): Item {
  const fingerprint = `fingerprint ${hmacHex(secret, 'Ticketloop webhook secret fingerprint').slice(0, 16)}`;
  const wanted = {
    name: SECRET_PROPERTY,
    type: 'password2',
    value: secret,
    description: `Ticketloop webhook HMAC secret (${fingerprint}, set by ticketloop setup servicenow; the value is encrypted)`,
  };
  return {
    what: `system property ${SECRET_PROPERTY}`,
    table: 'sys_properties',
    encrypted: true,
    read: () => first(client, 'sys_properties', q().eq('name', SECRET_PROPERTY), ['type', 'description']),
    diff: (cur) =>
      cur && str(cur.type) === 'password2' && str(cur.description).includes(fingerprint) ? undefined : wanted,
    instructions: (create) =>
      `${create ? 'Create' : 'Set'} the system property ${SECRET_PROPERTY} in ${PROPERTIES}: type password2, value = the secret configured in servicenow.${name}.webhook.secret (not shown here)`,
    wrote: (create) =>
      create
        ? 'the configured secret, encrypted by the instance'
        : 'rewritten with the configured secret: the stored value cannot be read back and did not carry its fingerprint',
  };
}

const RULE_FIELDS = [
  'collection',
  'when',
  'action_insert',
  'action_update',
  'action_delete',
  'active',
  'advanced',
  'condition',
  'script',
];

function rule(client: ServiceNowClient, table: string, prefix: string): Item {
  const name = businessRuleName(table);
  const condition = businessRuleCondition(prefix);
  const wanted: Record<string, string> = {
    name,
    collection: table,
    when: 'after',
    action_insert: 'true',
    action_update: 'true',
    action_delete: 'true',
    active: 'true',
    advanced: 'true',
    condition,
    script: BUSINESS_RULE_SCRIPT,
    order: '100',
    description: `Pushes ${table} changes to Ticketloop (installed by ticketloop setup servicenow; source ${BUSINESS_RULE_DOC})`,
  };
  return {
    what: `business rule ${name}`,
    table: 'sys_script',
    read: () => first(client, 'sys_script', q().eq('name', name).eq('collection', table), RULE_FIELDS),
    diff: (cur) => (cur && RULE_FIELDS.every((f) => str(cur[f]) === wanted[f]) ? undefined : wanted),
    instructions: (create) =>
      `${create ? 'Create' : 'Update'} the business rule "${name}" (System Definition → Business Rules${create ? ' → New' : ''}): table ${table}, when after, Insert ✓ Update ✓ Delete ✓, Advanced ✓, Active ✓, condition ${condition}, script: the whole of ${BUSINESS_RULE_DOC}`,
    wrote: () => `after insert/update/delete on ${table}, condition ${condition}`,
  };
}
