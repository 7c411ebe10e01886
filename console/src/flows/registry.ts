import { lazy } from 'react';
import type { ConsolePage } from '../shell/page.ts';

/**
 * Each flow's console pages, by flow name (the server's module name, GET /api/flows). A flow's
 * pages show when the instance runs one of its integrations. Defender for Cloud, permissions on
 * demand and Microsoft 365 add their folder here (console/src/flows/<name>/) in the next increments.
 */
export const FLOW_PAGES: Record<string, ConsolePage[]> = {
  entitlement: [
    {
      path: 'entitlement',
      title: 'Entitlement management',
      need: ['GET', '/api/entitlement/items'],
      component: lazy(() => import('./entitlement/ItemsPage.tsx')),
    },
    {
      path: 'entitlement/:id',
      title: 'Entitlement item',
      need: ['GET', '/api/entitlement/items/{id}'],
      component: lazy(() => import('./entitlement/ItemPage.tsx')),
      hidden: true,
    },
  ],
};
