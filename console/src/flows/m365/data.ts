import { api, call } from '../../api/client.ts';

/** The page's reads of /api/m365/… (src/flows/m365/routes.ts). */

export const M365 = ['m365'] as const;

export interface HealthIssueRow {
  id: string;
  title: string;
  service: string;
  feature: string | null;
  classification: string;
  status: string;
  isResolved: boolean;
  startDateTime: string;
  lastModifiedDateTime: string;
  impactDescription: string;
  summary: {
    currentStatus: string | null;
    userImpact: string | null;
    scopeOfImpact: string | null;
    nextUpdateBy: { text: string; at: string | null } | null;
  };
}

export interface SolutionRow {
  title: string;
  url: string;
  snippet: string;
  source: 'knowledge' | 'learn';
  number?: string;
}

export const loadIssues = async (open: boolean) =>
  (await call(api.GET('/api/m365/issues', { params: { query: { open: open ? 'true' : 'false' } } }))) as unknown as {
    items: HealthIssueRow[];
  };

/** Write the articles to an incident as one work note (once per incident and set of articles). */
export const writeSolutions = async (number: string, q: string, urls: string[]) =>
  (await call(api.POST('/api/m365/solutions/write', { body: { incident: { number }, q, urls } }))) as unknown as {
    state: 'writing' | 'already-written';
    incident: string;
    articles: { title: string }[];
  };

export const searchSolutions = async (q: string) =>
  (await call(api.GET('/api/m365/solutions', { params: { query: { q, limit: 8 } } }))) as unknown as {
    items: SolutionRow[];
    warnings: string[];
  };
