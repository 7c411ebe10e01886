import { z } from 'zod';

/**
 * `incidents:` of an m365 integration: one ITSM incident per service-health issue (off by default),
 * as Microsoft's app did from v2.1.0 (m365-support.md §1.3). `fields` are written as given, in the
 * ITSM's own field names (ServiceNow: category, impact, urgency, …), like other flows' customized mappings.
 */
const fieldName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a field name');

export const incidentsShape = z
  .object({
    enabled: z.boolean().default(false),
    /** The ticket kind opened (ServiceNow: the table). */
    kind: fieldName.default('incident'),
    assignmentGroup: z.string().min(1).optional(),
    fields: z.record(fieldName, z.string()).optional(),
    /** Resolve the incident when Microsoft resolves the issue (unless a person changed it). */
    resolveWhenResolved: z.boolean().default(true),
    /** The resolution code written on resolve; default: the ITSM connection's close-out configuration. */
    closeCode: z.string().min(1).optional(),
  })
  .strict()
  .default({ enabled: false, kind: 'incident', resolveWhenResolved: true });

export type IncidentsConfig = z.infer<typeof incidentsShape>;
