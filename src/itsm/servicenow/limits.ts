import { boundText } from '../port.ts';

/**
 * Field sizes of a base instance (sys_dictionary max_length on task): what Ticketloop writes is
 * cut to them, with the truncation note. The platform itself does not enforce max_length on long
 * text columns (KB0685779) — an unbounded value would be stored whole and fill forms and
 * notifications — and short ones are varchar columns. Instances with other sizes say so in
 * `servicenow[].fieldLimits`.
 */
export const FIELD_LIMITS: Readonly<Record<string, number>> = {
  short_description: 160,
  description: 4000,
  close_notes: 4000,
  work_notes: 4000,
  comments: 4000,
  correlation_display: 100,
};

/** Any other field: the largest ordinary string column ("Extra Large", 4000). */
export const DEFAULT_FIELD_LIMIT = 4000;

/**
 * Every value bounded by its field's limit. `correlation_id` is never cut: it is the identity of
 * the ticket, refused (not truncated) when too long by checkCorrelationId.
 */
export function boundFields(
  fields: Record<string, string>,
  limits: Readonly<Record<string, number>> = FIELD_LIMITS,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields))
    out[k] = k === 'correlation_id' || typeof v !== 'string' ? v : boundText(v, limits[k] ?? DEFAULT_FIELD_LIMIT);
  return out;
}
