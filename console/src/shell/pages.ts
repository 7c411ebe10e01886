import { lazy } from 'react';
import { FLOW_PAGES } from '../flows/registry.ts';
import type { ConsolePage } from './page.ts';

/** The core pages, then each configured flow's (flows/registry.ts). Every page is its own chunk. */
export const CORE_PAGES: ConsolePage[] = [
  {
    path: '',
    title: 'Overview',
    need: ['GET', '/api/overview'],
    component: lazy(() => import('../pages/Overview.tsx')),
  },
  { path: 'jobs', title: 'Jobs', need: ['GET', '/api/jobs'], component: lazy(() => import('../pages/Jobs.tsx')) },
  {
    path: 'audit',
    title: 'Audit log',
    need: ['GET', '/api/audit/verify'],
    component: lazy(() => import('../pages/Audit.tsx')),
  },
];

export const SETTINGS_PAGES: ConsolePage[] = [
  {
    path: 'settings/users',
    title: 'Users and roles',
    need: ['GET', '/api/users'],
    group: 'Settings',
    component: lazy(() => import('../pages/settings/Users.tsx')),
  },
  {
    path: 'settings/tokens',
    title: 'API tokens',
    need: ['GET', '/api/tokens'],
    group: 'Settings',
    component: lazy(() => import('../pages/settings/Tokens.tsx')),
  },
  {
    path: 'settings/connections',
    title: 'Connections',
    need: ['GET', '/api/flows'],
    group: 'Settings',
    component: lazy(() => import('../pages/settings/Connections.tsx')),
  },
  {
    path: 'account',
    title: 'Your account',
    need: ['GET', '/api/auth/me'],
    group: 'Settings',
    hidden: true,
    component: lazy(() => import('../pages/settings/Account.tsx')),
  },
];

/** The pages this user sees: configured flows only, and only what their roles may call. */
export function visiblePages(
  configuredFlows: readonly string[],
  can: (m: ConsolePage['need'][0], p: string) => boolean,
) {
  const flows = configuredFlows.flatMap((f) => FLOW_PAGES[f] ?? []);
  return [...CORE_PAGES, ...flows, ...SETTINGS_PAGES].filter((p) => can(p.need[0], p.need[1]));
}
