import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, Notice, PageHeader, Pager } from '../../components/common.tsx';
import { words } from '../../lib/format.ts';
import { requestColumns as c } from './columns.tsx';
import { loadRequests, POD, POLL_MS } from './data.ts';
import { RequestActions } from './RequestActions.tsx';
import type { PodRequest } from './types.ts';

/**
 * Requests waiting for this approver's decision (the API's inbox: policies naming them, not yet
 * decided by them, never their own unless the policy allows it). Approve or reject with a comment.
 */

const LIMIT = 50;

export default function InboxPage() {
  const [offset, setOffset] = useState(0);
  const [last, setLast] = useState<{ what: string; r: PodRequest }>();
  const list = useQuery({
    queryKey: [...POD, 'requests', 'inbox', offset],
    queryFn: () => loadRequests('inbox', offset, LIMIT),
    refetchInterval: POLL_MS,
  });
  const rows = list.data?.items ?? [];
  const columns = [
    c.permission,
    c.scope,
    c.identity,
    c.requester,
    c.duration,
    c.justification,
    c.submitted,
    {
      label: 'Decide',
      render: (r: PodRequest) => (
        <RequestActions
          request={r}
          only={['approve', 'reject']}
          onDone={(kind, now) => setLast({ what: kind === 'approve' ? 'approved' : 'rejected', r: now })}
        />
      ),
    },
  ];
  return (
    <>
      <PageHeader title="Approvals" />
      {last && (
        <Notice>
          You {last.what} {last.r.permission} for {last.r.requester}; the request is now {words(last.r.status)}.
        </Notice>
      )}
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading requests waiting for you" />
      ) : rows.length === 0 ? (
        <Empty>Nothing waits for your decision.</Empty>
      ) : (
        <DataTable label="Requests waiting for your decision" columns={columns} rows={rows} rowKey={(r) => r.id} />
      )}
      <Pager offset={offset} limit={LIMIT} shown={rows.length} onOffset={setOffset} />
    </>
  );
}
