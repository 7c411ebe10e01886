import { lazy } from 'react';
import type { ConsolePage } from '../shell/page.ts';

/**
 * Each flow's console pages, by flow name (the server's module name, GET /api/flows). A flow's
 * pages show when the instance runs one of its integrations, or, for a flow whose integrations the
 * console creates (lib/flows.ts), as soon as the instance runs the flow. Permissions on demand and
 * Microsoft 365 add their folder here (console/src/flows/<name>/) in the next increments.
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
  defender: [
    {
      path: 'defender',
      title: 'Defender for Cloud',
      need: ['GET', '/api/defender/integrations'],
      component: lazy(() => import('./defender/IntegrationsPage.tsx')),
    },
    {
      path: 'defender/assignments',
      title: 'Defender assignments',
      need: ['GET', '/api/defender/assignments'],
      component: lazy(() => import('./defender/AssignmentsPage.tsx')),
    },
    {
      path: 'defender/new',
      title: 'New Defender integration',
      need: ['POST', '/api/defender/integrations'],
      component: lazy(() => import('./defender/NewIntegrationPage.tsx')),
      hidden: true,
    },
    {
      path: 'defender/integrations/:name',
      title: 'Defender integration',
      need: ['GET', '/api/defender/integrations/{name}'],
      component: lazy(() => import('./defender/IntegrationPage.tsx')),
      hidden: true,
    },
  ],
};
