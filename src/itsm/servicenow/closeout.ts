import { str, type ServiceNowClient } from './client.ts';
import { statesFor, type CloseAction, type TableStates } from './map.ts';
import { q } from './query.ts';

/**
 * The close-out configuration of a connection and its check against the instance: which values
 * an action writes (defaults, config, the resolve/close fallback), whether the mandatory ones are
 * set and whether each is an active `sys_choice` value (the table's, else the parent `task`'s).
 * Used before every close-out and by checkSetup().
 */

/** `closeOut: { incident: { resolve: { close_code: 'Solution provided' } } }` */
export type CloseOutConfig = Record<string, Partial<Record<CloseAction, Record<string, string>>>>;

/** One field of an action that does not pass. */
export interface CloseOutFinding {
  field: string;
  /** The value that would be written; undefined when a mandatory field has none. */
  value?: string;
  /** The field's active choice values, when it has a choice list. */
  choices?: string[];
  /** The action whose configuration the value comes from (resolve and close share). */
  source: CloseAction;
}

export class CloseOutRules {
  private readonly choices = new Map<string, Promise<Set<string> | null>>();
  private readonly validated = new Set<string>();

  constructor(
    private readonly client: ServiceNowClient,
    private readonly config: CloseOutConfig = {},
    private readonly states?: Record<string, TableStates>,
  ) {}

  /** Tables named in the configuration. */
  get tables(): string[] {
    return Object.keys(this.config);
  }

  /** Whether an action has anything to check (configured values or mandatory fields). */
  applies(table: string, action: CloseAction): boolean {
    return !!this.config[table]?.[action] || !!statesFor(table, this.states).mandatory[action]?.length;
  }

  /** Defaults + config for an action; resolve and close fall back to each other's config. */
  configured(table: string, action: CloseAction): Record<string, string> {
    const cfg = this.config[table] ?? {};
    const other = fallback(action);
    const own = cfg[action] ?? (other && cfg[other]) ?? {};
    return { ...(statesFor(table, this.states).defaults?.[action] ?? {}), ...own };
  }

  /** Where a field's value is configured: the action itself, or the one it falls back to. */
  private source(table: string, action: CloseAction): CloseAction {
    const cfg = this.config[table] ?? {};
    const other = fallback(action);
    return !cfg[action] && other && cfg[other] ? other : action;
  }

  /** Fields of `values` that are missing (mandatory) or not a valid choice. Reads sys_choice. */
  async findings(table: string, action: CloseAction, values: Record<string, string>): Promise<CloseOutFinding[]> {
    const source = this.source(table, action);
    const out: CloseOutFinding[] = [];
    for (const field of statesFor(table, this.states).mandatory[action] ?? []) {
      if (values[field]?.trim()) continue;
      const valid = await this.choicesFor(table, field);
      out.push({ field, choices: valid ? [...valid] : undefined, source });
    }
    for (const [field, value] of Object.entries(values)) {
      const valid = await this.choicesFor(table, field);
      if (valid && !valid.has(value)) out.push({ field, value, choices: [...valid], source });
    }
    return out;
  }

  /** The findings as sentences, for refusing a close-out; passing value sets are remembered. */
  async problems(table: string, action: CloseAction, values: Record<string, string>): Promise<string[]> {
    const key = `${table}|${action}|${JSON.stringify(Object.entries(values).sort())}`;
    if (this.validated.has(key)) return [];
    const problems = (await this.findings(table, action, values)).map((f) =>
      f.value === undefined
        ? `${table} ${action}: mandatory field '${f.field}' is missing (set closeOut.${table}.${action}.${f.field})`
        : `${table} ${action}: '${f.value}' is not a valid choice for field '${f.field}' (sys_choice has: ${f.choices!.join(', ')})`,
    );
    if (!problems.length) this.validated.add(key);
    return problems;
  }

  /** Active choice values of table.field (falling back to the parent `task`), or null if none. */
  choicesFor(table: string, field: string): Promise<Set<string> | null> {
    const key = `${table}.${field}`;
    let p = this.choices.get(key);
    if (!p) {
      p = (async () => {
        for (const name of table === 'task' ? ['task'] : [table, 'task']) {
          const values = new Set<string>();
          const query = q().eq('name', name).eq('element', field);
          for await (const c of this.client.listAll('sys_choice', {
            query,
            fields: ['value', 'inactive'],
            pageSize: 500,
          })) {
            if (str(c.inactive) !== 'true') values.add(str(c.value));
          }
          if (values.size) return values;
        }
        return null;
      })();
      p.catch(() => this.choices.delete(key)); // don't cache failures
      this.choices.set(key, p);
    }
    return p;
  }
}

function fallback(action: CloseAction): CloseAction | undefined {
  return action === 'resolve' ? 'close' : action === 'close' ? 'resolve' : undefined;
}
