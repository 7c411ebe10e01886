import { isDeepStrictEqual } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { validateConfig } from '../app/config.ts';
import type { SetupStep } from '../app/checks.ts';
import { ConfigError } from '../config/load.ts';

/**
 * `ticketloop setup` records the integrations it creates in the configuration file — the one place
 * an operator reviews — keeping the file's comments and layout (YAML documents are edited, not
 * re-serialised). Fields of an existing entry that setup does not set are kept. The file as
 * changed must still validate, or nothing is written.
 */

type Entry = Record<string, unknown> & { name: string };

export async function upsertIntegration(file: string, entry: Entry, o: { dryRun?: boolean } = {}): Promise<SetupStep> {
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
    validateConfig(parsed, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const problems = e.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    return { what, outcome: 'failed', detail: `the file would not validate: ${problems}` };
  }
  if (o.dryRun) return { what, outcome: 'manual', detail: `would be ${outcome}` };
  writeFileSync(file, next);
  return { what, outcome };
}
