import { api, call } from '../../api/client.ts';

/** The escalation page's calls to /api/m365/escalations (src/flows/m365/escalation/routes.ts). */

export interface EscalationRow {
  id: string;
  kind: 'azure-support' | 'guided';
  label: string;
  status: string;
  incident: { key: string; link: string };
  title: string;
  service: string;
  problemClassification: string;
  ticketName: string | null;
  ticketNumber: string | null;
  caseNumber: string | null;
  summary?: string;
  error: string | null;
}

export const GUIDED_STATUSES = [
  'awaiting-case',
  'open',
  'waiting-on-microsoft',
  'waiting-on-us',
  'resolved',
  'closed',
] as const;
export type GuidedStatus = (typeof GUIDED_STATUSES)[number];

export const escalate = async (body: Record<string, unknown>) =>
  (await call(api.POST('/api/m365/escalations', { body: body as never }))) as unknown as EscalationRow;

export const recordCase = async (id: string, caseNumber: string) =>
  (await call(
    api.POST('/api/m365/escalations/{id}/case', { params: { path: { id } }, body: { caseNumber } }),
  )) as unknown as EscalationRow;

export const setCaseStatus = async (id: string, status: GuidedStatus) =>
  (await call(
    api.POST('/api/m365/escalations/{id}/status', { params: { path: { id } }, body: { status } }),
  )) as unknown as EscalationRow;
