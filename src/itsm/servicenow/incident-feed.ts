import { HttpError, PermanentError } from '../../engine/errors.ts';
import type { IncidentFeedPort, IncidentNote, ReportedIncident, TicketRef } from '../port.ts';
import { str, type ServiceNowClient } from './client.ts';
import { keysetPage } from './keyset.ts';
import { toRef, type MapContext } from './map.ts';
import { parseSnDate, q } from './query.ts';

/**
 * Incidents as people report them, on the Table API: active records of the incident table (or a
 * table extending it) changed since a watermark, keyset-paged on `sys_updated_on, sys_id`
 * (keyset.ts). A child is tied to its parent through `parent_incident`, the reference the platform's
 * parent/child state sync follows (children take the parent's In Progress, On Hold and Resolved).
 */

const FIELDS = [
  'sys_id',
  'number',
  'short_description',
  'description',
  'opened_at',
  'sys_updated_on',
  'correlation_id',
  'parent_incident',
];
const SYS_ID = /^[0-9a-f]{32}$/i;

export interface IncidentFeedOptions {
  client: ServiceNowClient;
  ctx: MapContext;
  now: () => number;
}

const iso = (sn: string) => {
  const ms = parseSnDate(sn);
  return ms === undefined ? '' : new Date(ms).toISOString();
};

export class ServiceNowIncidentFeed implements IncidentFeedPort {
  constructor(private readonly o: IncidentFeedOptions) {}

  async pollIncidents(
    kind: string,
    watermark: string | undefined,
    o: { pageSize?: number; since?: number; notesContaining?: string } = {},
  ) {
    const { records, next, more } = await keysetPage({
      client: this.o.client,
      table: kind,
      filter: `${q().eq('active', 'true').build()}^`,
      fields: FIELDS,
      watermark,
      size: o.pageSize ?? 100,
      now: this.o.now,
      since: o.since,
    });
    const notes = o.notesContaining
      ? await this.notesOf(
          records.map((r) => str(r.sys_id)),
          o.notesContaining,
        )
      : undefined;
    const incidents: ReportedIncident[] = records.map((r) => {
      const ref = toRef(this.o.ctx, kind, r);
      return {
        ref,
        key: ref.key,
        title: str(r.short_description),
        description: str(r.description),
        openedAt: iso(str(r.opened_at)),
        updatedAt: iso(str(r.sys_updated_on)),
        correlation: str(r.correlation_id),
        parent: str(r.parent_incident) || undefined,
        ...(notes ? { notes: notes.get(ref.id) ?? [] } : {}),
      };
    });
    return { incidents, watermark: next, more };
  }

  async linkToParent(child: TicketRef, parent: TicketRef): Promise<void> {
    if (!SYS_ID.test(parent.id))
      throw new PermanentError(`parent incident id ${JSON.stringify(parent.id)} is not a sys_id`);
    if (child.id === parent.id) throw new PermanentError(`${child.key}: an incident cannot be its own parent`);
    try {
      await this.o.client.update(child.kind, child.id, { parent_incident: parent.id }, { fields: ['sys_id'] });
    } catch (e) {
      if (e instanceof HttpError && e.status === 404)
        throw new PermanentError(`${child.kind} ${child.key || child.id} no longer exists (or is hidden by ACL)`);
      throw e;
    }
  }

  /** The work notes of these incidents that contain `text`: one journal read for the page. */
  private async notesOf(ids: string[], text: string): Promise<Map<string, IncidentNote[]>> {
    const out = new Map<string, IncidentNote[]>();
    if (!ids.length) return out;
    const page = await this.o.client.list('sys_journal_field', {
      query: q()
        .in('element_id', ids)
        .eq('element', 'work_notes')
        .like('value', text)
        .orderBy('sys_created_on')
        .orderBy('sys_id'),
      fields: ['sys_id', 'element_id', 'value', 'sys_created_by', 'sys_created_on'],
      excludeReferenceLink: true,
      pageSize: 1000,
      noCount: true,
    });
    for (const r of page.records) {
      const list = out.get(str(r.element_id)) ?? [];
      list.push({
        id: str(r.sys_id),
        author: str(r.sys_created_by),
        createdAt: iso(str(r.sys_created_on)),
        text: str(r.value),
      });
      out.set(str(r.element_id), list);
    }
    return out;
  }
}
