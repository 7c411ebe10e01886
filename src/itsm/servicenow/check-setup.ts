import type { CheckResult } from '../../app/checks.ts';
import type { ServiceNowClient } from './client.ts';
import type { CloseOutFinding, CloseOutRules } from './closeout.ts';
import { diagnose, identity, type AuthLabel, type Diagnosis } from './diagnose.ts';
import { statesFor, type CloseAction, type TableStates } from './map.ts';
import { q } from './query.ts';

/**
 * What `ticketloop doctor` learns about a ServiceNow connection: sign-in, each table it reads,
 * and each close-out action's values against sys_choice. One CheckResult per thing checked,
 * passing ones included. A failure that concerns the whole connection (unreachable, sign-in
 * refused) is reported once and ends the check, rather than once per table.
 */

export interface SetupCheckOptions {
  client: ServiceNowClient;
  /** The connection's name. */
  system: string;
  instanceUrl: string;
  auth?: AuthLabel;
  /** Tables to probe, in order (close-out tables are added). */
  tables: string[];
  closeOut: CloseOutRules;
  states?: Record<string, TableStates>;
}

const ACTIONS: CloseAction[] = ['resolve', 'close', 'cancel'];

export async function checkServiceNowSetup(o: SetupCheckOptions): Promise<CheckResult[]> {
  const target = `ServiceNow ${o.system}`;
  const results: CheckResult[] = [];
  const ctx = (check: string, table?: string) => ({ target, check, instanceUrl: o.instanceUrl, auth: o.auth, table });
  let signedIn = false;
  const signIn = () => {
    if (signedIn) return;
    signedIn = true;
    results.push({
      target,
      check: 'sign-in',
      ok: true,
      detail: `signed in to ${o.instanceUrl} as ${identity(o.auth)}`,
    });
  };
  let choicesReadable = true;

  for (const table of new Set([...o.tables, ...o.closeOut.tables])) {
    const check = `table ${table}`;
    let rows: number;
    try {
      const page = await o.client.list(table, {
        query: q().isNotEmpty('sys_id'),
        pageSize: 1,
        fields: ['sys_id'],
        noCount: true,
      });
      rows = page.records.length;
    } catch (e) {
      const d = diagnose(e, ctx(check, table));
      if (d.scope === 'table') {
        signIn(); // the instance answered as someone it knows: the credentials work
        results.push(d.result);
        continue;
      }
      results.push(...connectionWide(d, signIn, signedIn ? check : 'connection'));
      return results;
    }
    signIn();
    results.push({ target, check, ok: true, detail: `reachable, ${rows} row${rows === 1 ? '' : 's'} read` });

    try {
      statesFor(table, o.states);
    } catch (e) {
      results.push({
        target,
        check: `${table} close-out`,
        ok: false,
        detail: (e as Error).message,
        fix: 'use one of the tables Ticketloop knows the states of for tickets it closes',
      });
      continue;
    }
    for (const action of ACTIONS) {
      if (!choicesReadable || !o.closeOut.applies(table, action)) continue;
      const values = o.closeOut.configured(table, action);
      let findings: CloseOutFinding[];
      try {
        findings = await o.closeOut.findings(table, action, values);
      } catch (e) {
        const d = diagnose(e, ctx('close-out choices (sys_choice)', 'sys_choice'));
        if (d.scope !== 'table') {
          results.push(...connectionWide(d, signIn, d.result.check));
          return results;
        }
        results.push(d.result);
        choicesReadable = false; // the same read fails for every action: say so once
        continue;
      }
      const cCheck = `${table} ${action} close-out`;
      if (findings.length === 0) {
        results.push({ target, check: cCheck, ok: true, detail: describeValues(values) });
        continue;
      }
      for (const f of findings)
        results.push({ target, check: cCheck, ok: false, ...explain(o.system, table, action, f) });
    }
  }
  return results;
}

/** A failure of the whole connection, under the name of what failed (sign-in, access, …). */
function connectionWide(d: Diagnosis, signIn: () => void, otherwise: string): CheckResult[] {
  if (d.scope === 'sign-in') return [{ ...d.result, check: 'sign-in' }];
  if (d.scope === 'access') {
    signIn(); // signed in, but not allowed to use the API
    return [{ ...d.result, check: 'Table API access' }];
  }
  return [{ ...d.result, check: otherwise }];
}

function describeValues(values: Record<string, string>): string {
  const set = Object.entries(values).map(([k, v]) => `${k} '${v}'`);
  return set.length ? `${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} valid` : 'nothing to set';
}

function explain(
  system: string,
  table: string,
  action: CloseAction,
  f: CloseOutFinding,
): { detail: string; fix: string } {
  const path = `servicenow.${system}.closeOut.${table}.${f.source}.${f.field}`;
  const oneOf = f.choices?.length ? ` to one of: ${f.choices.join(', ')}` : '';
  if (f.value === undefined)
    return {
      detail: `${table} ${action}: ${f.field} is not set, and ServiceNow requires it`,
      fix: `set ${path}${oneOf || ` (the instance has no choice list for ${f.field}: use a value it accepts)`}`,
    };
  return {
    detail: `${table} ${action}: '${f.value}' is not a valid ${f.field}`,
    fix: `set ${path}${oneOf}, or add the choice in ServiceNow`,
  };
}
