import { isDeepStrictEqual } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import type { SetupStep } from '../app/checks.ts';
import { ConfigError } from './load.ts';

/**
 * `ticketloop setup` records the integrations it creates in the configuration file — the one place
 * an operator reviews — keeping the file's comments and layout (YAML documents are edited, not
 * re-serialised). Fields of an existing entry that setup does not set are kept. The file as
 * changed must still validate, or nothing is written. `validate` is the configuration schema of the
 * registered modules (app/config.ts); it is passed in so that this stays below the modules that use it.
 */

export type Validate = (raw: unknown, source: string) => unknown;

type Entry = Record<string, unknown> & { name: string };

export async function upsertIntegration(
  file: string,
  entry: Entry,
  o: { dryRun?: boolean; validate: Validate },
): Promise<SetupStep> {
  const what = `integration "${entry.name}" in ${file}`;
  const text = readFileSync(file, 'utf8');
  const json = file.endsWith('.json');
  const YAML = json ? undefined : await import('yaml');
  let next: string;
  let outcome: SetupStep['outcome'];
  if (json) {
    const doc = JSON.parse(text) as { integrations?: Entry[] };
    const list = (doc.integrations ??= []);
    const at = list.findIndex((i) => i.name === entry.name);
    const merged = { ...list[at], ...entry };
    outcome = at < 0 ? 'created' : isDeepStrictEqual(list[at], merged) ? 'unchanged' : 'updated';
    if (at < 0) list.push(entry);
    else list[at] = merged;
    next = `${JSON.stringify(doc, null, 2)}\n`;
  } else {
    const doc = YAML!.parseDocument(text);
    const list = doc.get('integrations');
    const items = YAML!.isSeq(list) ? list.items : [];
    const at = items.findIndex((n) => YAML!.isMap(n) && n.get('name') === entry.name);
    const current = at >= 0 ? ((items[at] as { toJSON(): unknown }).toJSON() as Entry) : undefined;
    const merged = { ...current, ...entry };
    outcome = at < 0 ? 'created' : isDeepStrictEqual(current, merged) ? 'unchanged' : 'updated';
    if (!YAML!.isSeq(list)) doc.set('integrations', doc.createNode([entry]));
    else if (at < 0) list.add(doc.createNode(entry));
    // Only the keys setup sets are replaced, so comments on the others stay.
    else for (const [k, v] of Object.entries(entry)) (items[at] as import('yaml').YAMLMap).set(k, doc.createNode(v));
    next = doc.toString();
  }
  if (outcome === 'unchanged') return { what, outcome };
  const parsed = json ? JSON.parse(next) : YAML!.parse(next);
  try {
    o.validate(parsed, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const problems = e.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    return { what, outcome: 'failed', detail: `the file would not validate: ${problems}` };
  }
  if (o.dryRun) return { what, outcome: 'manual', detail: `would be ${outcome}` };
  writeFileSync(file, next);
  return { what, outcome };
}

/**
 * Set a top-level section: an object (`microsoft`) merged key by key, or, with `listBy`, the entry
 * of a list (`servicenow: [{name, …}]`) with that name. Same rules as upsertIntegration.
 */
export async function upsertSection(
  file: string,
  key: string,
  value: Record<string, unknown>,
  o: { dryRun?: boolean; listBy?: string; validate: Validate },
): Promise<SetupStep> {
  const what = o.listBy ? `${key} "${String(value[o.listBy])}" in ${file}` : `${key} in ${file}`;
  const text = readFileSync(file, 'utf8');
  const json = file.endsWith('.json');
  const YAML = json ? undefined : await import('yaml');
  const doc = json ? undefined : YAML!.parseDocument(text);
  const raw = (json ? JSON.parse(text) : doc!.toJSON()) as Record<string, unknown>;
  const list = o.listBy ? (Array.isArray(raw[key]) ? (raw[key] as Record<string, unknown>[]) : []) : undefined;
  const at = list ? list.findIndex((i) => i[o.listBy!] === value[o.listBy!]) : -1;
  const current = list ? list[at] : (raw[key] as Record<string, unknown> | undefined);
  const merged = { ...current, ...value };
  const outcome: SetupStep['outcome'] = !current
    ? 'created'
    : isDeepStrictEqual(current, merged)
      ? 'unchanged'
      : 'updated';
  if (outcome === 'unchanged') return { what, outcome };
  let next: string;
  if (json) {
    if (list) raw[key] = at < 0 ? [...list, merged] : list.map((x, n) => (n === at ? merged : x));
    else raw[key] = merged;
    next = `${JSON.stringify(raw, null, 2)}\n`;
  } else {
    const path = list ? [key, at < 0 ? list.length : at] : [key];
    if (list && at < 0) {
      if (YAML!.isSeq(doc!.get(key))) (doc!.get(key) as import('yaml').YAMLSeq).add(doc!.createNode(merged));
      else doc!.set(key, doc!.createNode([merged]));
    } else if (!current) doc!.set(key, doc!.createNode(merged));
    // Only the keys given are replaced, so comments on the others stay.
    else for (const [k, v] of Object.entries(value)) doc!.setIn([...path, k], doc!.createNode(v));
    next = doc!.toString();
  }
  const parsed = json ? JSON.parse(next) : YAML!.parse(next);
  try {
    o.validate(parsed, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Setup writes the connections before the integration that needs them: only this section's problems count.
    const problems = e.problems.filter(
      (p) => p.path === key || p.path.startsWith(`${key}.`) || p.path.startsWith(`${key}[`),
    );
    if (problems.length)
      return {
        what,
        outcome: 'failed',
        detail: `the file would not validate: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      };
  }
  if (o.dryRun) return { what, outcome: 'manual', detail: `would be ${outcome}` };
  writeFileSync(file, next);
  return { what, outcome };
}
