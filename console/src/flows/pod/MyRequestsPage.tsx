import { Button } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useSession } from '../../auth/session.tsx';
import { DataTable } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, PageHeader, Pager } from '../../components/common.tsx';
import { actionsColumn, requestColumns as c } from './columns.tsx';
import { loadRequests, POD, POLL_MS } from './data.ts';

/** The signed-in person's requests, newest first: status, time left on active grants, and their actions. */

const LIMIT = 50;
const COLUMNS = [c.permission, c.scope, c.identity, c.status, c.timeLeft, c.submitted, actionsColumn()];

export default function MyRequestsPage() {
  const navigate = useNavigate();
  const { can } = useSession();
  const [offset, setOffset] = useState(0);
  const list = useQuery({
    queryKey: [...POD, 'requests', 'mine', offset],
    queryFn: () => loadRequests('mine', offset, LIMIT),
    refetchInterval: POLL_MS,
  });
  const rows = list.data?.items ?? [];
  return (
    <>
      <PageHeader title="My requests">
        {can('POST', '/api/pod/requests') && (
          <Button appearance="primary" onClick={() => navigate('/pod/request')}>
            Request access
          </Button>
        )}
      </PageHeader>
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading your requests" />
      ) : rows.length === 0 ? (
        <Empty>You have asked for nothing yet. Request access to a permission for the time you need it.</Empty>
      ) : (
        <DataTable label="My requests" columns={COLUMNS} rows={rows} rowKey={(r) => r.id} />
      )}
      <Pager offset={offset} limit={LIMIT} shown={rows.length} onOffset={setOffset} />
    </>
  );
}
