import { api, call } from '../../api/client.ts';

/** The match review page's calls to /api/m365/matches (src/flows/m365/feed/routes.ts). */

export const MATCH_STATUSES = ['suggested', 'confirmed', 'rejected'] as const;
export type MatchStatus = (typeof MATCH_STATUSES)[number];

export interface MatchRow {
  incident: { id: string; key: string; link: string };
  title: string;
  issue: string;
  rank: number | null;
  score: number | null;
  why: string;
  status: MatchStatus;
  noted: boolean;
  verdictBy: string | null;
  verdictAt: string | null;
  comment: string | null;
  updatedAt: string;
}

export const loadMatches = async (status: MatchStatus | '') =>
  (await call(api.GET('/api/m365/matches', { params: { query: status ? { status } : {} } }))) as unknown as {
    items: MatchRow[];
  };

export const decideMatch = async (incident: string, issue: string, verdict: 'confirm' | 'reject', comment?: string) =>
  verdict === 'confirm'
    ? await call(
        api.POST('/api/m365/matches/{incident}/{issue}/confirm', {
          params: { path: { incident, issue } },
          body: comment ? { comment } : {},
        }),
      )
    : await call(
        api.POST('/api/m365/matches/{incident}/{issue}/reject', {
          params: { path: { incident, issue } },
          body: comment ? { comment } : {},
        }),
      );

export const noneOfThem = async (incident: string) =>
  await call(api.POST('/api/m365/matches/{incident}/none', { params: { path: { incident } }, body: {} }));
