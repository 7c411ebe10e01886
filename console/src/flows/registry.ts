import { lazy } from 'react';
import type { ConsolePage } from '../shell/page.ts';

/**
 * Each flow's console pages, by flow name (the server's module name, GET /api/flows). A flow's
 * pages show when the instance runs one of its integrations, or, for a flow whose integrations the
 * console creates or whose pages serve everyone (lib/flows.ts), as soon as the instance runs the flow.
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
      path: 'defender/integrations/:name/assign',
      title: 'Create assignment',
      need: ['POST', '/api/defender/assignments'],
      component: lazy(() => import('./defender/AssignPage.tsx')),
      hidden: true,
    },
    {
      path: 'defender/integrations/:name/manual',
      title: 'Manual assignments',
      need: ['GET', '/api/defender/integrations/{name}/manual-assignments'],
      component: lazy(() => import('./defender/ManualAssignmentsPage.tsx')),
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
  pod: [
    {
      path: 'pod/request',
      title: 'Request access',
      need: ['POST', '/api/pod/requests'],
      component: lazy(() => import('./pod/RequestAccessPage.tsx')),
    },
    {
      path: 'pod/mine',
      title: 'My requests',
      need: ['POST', '/api/pod/requests'],
      component: lazy(() => import('./pod/MyRequestsPage.tsx')),
    },
    {
      path: 'pod/inbox',
      title: 'Approvals',
      need: ['POST', '/api/pod/requests/{id}/approve'],
      component: lazy(() => import('./pod/InboxPage.tsx')),
    },
    {
      path: 'pod/grants',
      title: 'Active grants',
      need: ['GET', '/api/pod/grants'],
      component: lazy(() => import('./pod/GrantsPage.tsx')),
    },
    {
      path: 'pod/drift',
      title: 'Permission drift',
      need: ['GET', '/api/pod/drift'],
      component: lazy(() => import('./pod/DriftPage.tsx')),
    },
    {
      path: 'pod/report',
      title: 'Access report',
      need: ['GET', '/api/pod/report.csv'],
      component: lazy(() => import('./pod/ReportPage.tsx')),
    },
    {
      path: 'pod/requests/:id',
      title: 'Permission request',
      need: ['GET', '/api/pod/requests/{id}'],
      component: lazy(() => import('./pod/RequestPage.tsx')),
      hidden: true,
    },
  ],
  m365: [
    {
      path: 'm365',
      title: 'Microsoft 365 service health',
      need: ['GET', '/api/m365/issues'],
      component: lazy(() => import('./m365/HealthPage.tsx')),
    },
    {
      path: 'm365/escalate',
      title: 'Escalate to Microsoft support',
      need: ['POST', '/api/m365/escalations'],
      component: lazy(() => import('./m365/EscalatePage.tsx')),
    },
    {
      path: 'm365/escalations',
      title: 'Microsoft support escalations',
      need: ['GET', '/api/m365/escalations'],
      component: lazy(() => import('./m365/EscalationsPage.tsx')),
    },
    {
      path: 'm365/matches',
      title: 'Microsoft 365 matches',
      need: ['GET', '/api/m365/matches'],
      component: lazy(() => import('./m365/MatchesPage.tsx')),
    },
    {
      path: 'm365/setup',
      title: 'Microsoft 365 setup',
      need: ['POST', '/api/m365/setup/test'],
      component: lazy(() => import('./m365/SetupPage.tsx')),
    },
  ],
};
