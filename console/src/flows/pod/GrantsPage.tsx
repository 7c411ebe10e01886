import { Link } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, PageHeader, Pager } from '../../components/common.tsx';
import { actionsColumn, requestColumns as c } from './columns.tsx';
import { loadGrants, POD, POLL_MS } from './data.ts';

/** Every active grant from the ledger (granted, or being revoked): who has what where, time left, revoke. */

const LIMIT = 200;
const COLUMNS = [
  c.identity,
  c.permission,
  c.scope,
  c.requester,
  c.status,
  c.granted,
  c.timeLeft,
  actionsColumn(['revoke']),
];

export default function GrantsPage() {
  const [offset, setOffset] = useState(0);
  const list = useQuery({
    queryKey: [...POD, 'grants', offset],
    queryFn: () => loadGrants(offset, LIMIT),
    refetchInterval: POLL_MS,
  });
  const rows = list.data?.items ?? [];
  return (
    <>
      <PageHeader title="Active grants">
        <Link to="/pod/drift">Drift</Link>
        <Link to="/pod/report">Report</Link>
      </PageHeader>
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading active grants" />
      ) : rows.length === 0 ? (
        <Empty>No permission is granted through Ticketloop right now.</Empty>
      ) : (
        <DataTable label="Active grants" columns={COLUMNS} rows={rows} rowKey={(r) => r.id} />
      )}
      <Pager offset={offset} limit={LIMIT} shown={rows.length} onOffset={setOffset} />
    </>
  );
}
