/** The "Create assignment" form's state, the body it sends, and where the API's refusals show (no imports: unit-tested in Node). */

/** One refused field, as the API's error envelope names it (`body.resourceIds.3`). */
interface FieldProblem {
  path: string;
  message: string;
}

export interface AssignForm {
  ticketType: string;
  assignedTo: string;
  caller: string;
  /** Days, as typed; empty = the integration's timeframe for the severity. */
  days: string;
  gracePeriod: boolean;
  notifyOwner: boolean;
  notifyManager: boolean;
}

export const EMPTY_ASSIGN_FORM: AssignForm = {
  ticketType: '',
  assignedTo: '',
  caller: '',
  days: '',
  gracePeriod: true,
  notifyOwner: false,
  notifyManager: false,
};

export function assignmentBody(integration: string, assessmentKey: string, resourceIds: string[], f: AssignForm) {
  const days = f.days.trim();
  return {
    integration,
    assessmentKey,
    resourceIds,
    ...(f.ticketType ? { ticketType: f.ticketType as 'incident' | 'change_request' | 'problem' } : {}),
    assignedTo: f.assignedTo.trim(),
    ...(f.caller.trim() ? { caller: f.caller.trim() } : {}),
    ...(days ? { remediationTimeframeDays: Number(days) } : {}),
    gracePeriod: f.gracePeriod,
    notifications: { owner: f.notifyOwner, manager: f.notifyManager },
  };
}

const FIELDS = ['resourceIds', 'ticketType', 'assignedTo', 'caller', 'remediationTimeframeDays', 'notifications'];

/** `body.resourceIds.3` → resourceIds; messages for the same field are joined; the rest is "other". */
export function assignErrors(details: readonly FieldProblem[]): { fields: Record<string, string>; other: string[] } {
  const fields: Record<string, string> = {};
  const other: string[] = [];
  for (const d of details) {
    const path = d.path.replace(/^body\.?/, '');
    const field = FIELDS.find((f) => path === f || path.startsWith(`${f}.`));
    if (!field) other.push(`${path || 'body'}: ${d.message}`);
    // The per-resource lines repeat what the list shows; the field keeps the summary.
    else if (!(field === 'resourceIds' && path !== field && fields[field]))
      fields[field] = fields[field] ? `${fields[field]}; ${d.message}` : d.message;
  }
  return { fields, other };
}
