/** The "Create assignment" and edit forms' state, the bodies they send, and where the API's refusals show (no imports: unit-tested in Node). */

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

const FIELDS = [
  'resourceIds',
  'ticketType',
  'assignedTo',
  'caller',
  'remediationTimeframeDays',
  'dueDate',
  'gracePeriod',
  'notifications',
];

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

/** A manual assignment as the list shows it: what the edit form starts from. */
export interface ManualAssignmentSettings {
  owner: string;
  caller: string | null;
  dueDate: string;
  gracePeriod: boolean;
  notifications: { owner: boolean; manager: boolean };
}

export interface EditForm {
  assignedTo: string;
  caller: string;
  /** yyyy-mm-dd, as a date input gives it. */
  dueDate: string;
  gracePeriod: boolean;
  notifyOwner: boolean;
  notifyManager: boolean;
}

export function editFormOf(a: ManualAssignmentSettings): EditForm {
  return {
    assignedTo: a.owner,
    caller: a.caller ?? '',
    dueDate: a.dueDate.slice(0, 10),
    gracePeriod: a.gracePeriod,
    notifyOwner: a.notifications.owner,
    notifyManager: a.notifications.manager,
  };
}

/** The PATCH body: only what the form changed (a due date typed is midnight UTC of that day). */
export function editBody(a: ManualAssignmentSettings, f: EditForm) {
  const was = editFormOf(a);
  const owner = f.assignedTo.trim();
  const caller = f.caller.trim();
  const notifications = {
    ...(f.notifyOwner !== was.notifyOwner ? { owner: f.notifyOwner } : {}),
    ...(f.notifyManager !== was.notifyManager ? { manager: f.notifyManager } : {}),
  };
  return {
    ...(owner !== was.assignedTo ? { assignedTo: owner } : {}),
    ...(caller && caller !== was.caller ? { caller } : {}),
    ...(f.dueDate && f.dueDate !== was.dueDate ? { dueDate: f.dueDate } : {}),
    ...(f.gracePeriod !== was.gracePeriod ? { gracePeriod: f.gracePeriod } : {}),
    ...(Object.keys(notifications).length ? { notifications } : {}),
  };
}
