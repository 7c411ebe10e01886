import { Badge, Button } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { Link, useLocation, useNavigate } from 'react-router';
import { api, call } from '../../api/client.ts';
import { useSession } from '../../auth/session.tsx';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, Notice, PageHeader } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { describeScope, type PassFigures } from './logic.ts';

/** Defender for Cloud integrations: the scope each reads, its ticket type and mapping, its last pass. */

type Integration = Awaited<ReturnType<typeof loadIntegrations>>['integrations'][number];
const loadIntegrations = () => call(api.GET('/api/defender/integrations'));

const COLUMNS: Column<Integration>[] = [
  {
    label: 'Name',
    render: (i) => <Link to={`/defender/integrations/${encodeURIComponent(i.name)}`}>{i.name}</Link>,
  },
  {
    label: 'Scope',
    render: (i) => {
      const s = describeScope(String(i.config.scope ?? ''));
      return `${s.kind}: ${s.name}`;
    },
  },
  { label: 'Tickets', render: (i) => String(i.config.ticketType ?? 'incident') },
  {
    label: 'Field mapping',
    render: (i) => String((i.config.mapping as { mode?: string } | undefined)?.mode ?? 'default'),
  },
  {
    label: 'Defined in',
    render: (i) => (
      <Badge appearance="tint" color={i.source === 'api' ? 'brand' : 'informative'}>
        {i.source === 'api' ? 'console / API' : 'config file'}
      </Badge>
    ),
  },
  {
    label: 'Last pass',
    render: (i) => {
      const last = i.lastReconcile as PassFigures | null;
      return last ? `${dateTime(last.at)} · ${last.unhealthy ?? 0} unhealthy` : 'not yet';
    },
  },
];

export default function IntegrationsPage() {
  const { can } = useSession();
  const navigate = useNavigate();
  const deleted = (useLocation().state as { deleted?: string } | null)?.deleted;
  const list = useQuery({ queryKey: ['defender-integrations'], queryFn: loadIntegrations, refetchInterval: 10_000 });
  const rows = list.data?.integrations ?? [];
  return (
    <>
      <PageHeader title="Defender for Cloud">
        <Link to="/defender/assignments">Assignments</Link>
        {can('POST', '/api/defender/integrations') && (
          <Button appearance="primary" onClick={() => navigate('/defender/new')}>
            New integration
          </Button>
        )}
      </PageHeader>
      {deleted && (
        <Notice>
          {deleted} is deleted. Its governance assignments are being removed and its open tickets annotated in the
          background.
        </Notice>
      )}
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading integrations" />
      ) : rows.length === 0 ? (
        <Empty>
          No Defender for Cloud integration yet. Create one at a management group, subscription or security connector
          scope and its unhealthy recommendations become tickets.
        </Empty>
      ) : (
        <DataTable label="Defender integrations" columns={COLUMNS} rows={rows} rowKey={(i) => i.name} />
      )}
    </>
  );
}
