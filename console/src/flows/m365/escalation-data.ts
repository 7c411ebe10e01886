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
  severity: string;
  createdAt: string;
  /** The last update from either side. */
  activityAt: string;
}

export interface CommunicationRow {
  name: string;
  direction: 'inbound' | 'outbound';
  sender: string;
  subject: string;
  body: string;
  createdDate: string;
}

/** What a kind is, said honestly: only Azure has a public case API. */
export const KIND_LABEL: Record<EscalationRow['kind'], string> = {
  'azure-support': 'Azure support ticket',
  guided: 'Guided hand-off (no public case API)',
};

export const loadEscalations = async () =>
  (await call(api.GET('/api/m365/escalations', {}))) as unknown as {
    mode: string;
    lastSyncAt: string | null;
    items: EscalationRow[];
  };

export const loadEscalation = async (id: string) =>
  (await call(api.GET('/api/m365/escalations/{id}', { params: { path: { id } } }))) as unknown as EscalationRow;

export const loadCommunications = async (id: string) =>
  (await call(api.GET('/api/m365/escalations/{id}/communications', { params: { path: { id } } }))) as unknown as {
    items: CommunicationRow[];
  };

export const replyTo = async (id: string, message: string) =>
  await call(api.POST('/api/m365/escalations/{id}/reply', { params: { path: { id } }, body: { message } }));

export const closeTicket = async (id: string, reason?: string) =>
  await call(
    api.POST('/api/m365/escalations/{id}/close', {
      params: { path: { id } },
      body: reason ? { reason } : {},
    }),
  );

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
