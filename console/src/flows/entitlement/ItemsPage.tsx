import { Field, Select } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { DataTable } from '../../components/DataTable.tsx';
import { api, call } from '../../api/client.ts';
import {
  Empty,
  ErrorBar,
  Filters,
  Loading,
  PageHeader,
  Pager,
  StatusBadge,
  TicketLink,
} from '../../components/common.tsx';
import { dateTime, words } from '../../lib/format.ts';
import { Deadline, WAITING } from './Countdown.tsx';

/** Access-request stages Ticketloop handles: by status, with their ticket and the time left. */

const STATUSES = ['received', 'ticket_open', 'resuming', 'resumed', 'denied', 'expired', 'failed', 'closed'] as const;
type Status = (typeof STATUSES)[number];
const LIMIT = 25;

export default function ItemsPage() {
  const [status, setStatus] = useState<Status | ''>('');
  const [offset, setOffset] = useState(0);
  const query = { status: status || undefined, limit: LIMIT, offset };
  const items = useQuery({
    queryKey: ['entitlement-items', query],
    queryFn: () => call(api.GET('/api/entitlement/items', { params: { query } })),
    refetchInterval: 5_000,
  });
  const rows = items.data?.items ?? [];
  return (
    <>
      <PageHeader title="Entitlement management" />
      <Filters>
        <Field label="Status">
          <Select
            value={status}
            onChange={(_e, d) => {
              setStatus(d.value as Status | '');
              setOffset(0);
            }}
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {words(s)}
              </option>
            ))}
          </Select>
        </Field>
      </Filters>
      <ErrorBar error={items.error} />
      {items.isPending ? (
        <Loading label="Loading access requests" />
      ) : rows.length === 0 ? (
        <Empty>
          {status
            ? `No request is ${words(status)}.`
            : 'No access request has reached Ticketloop yet. Requests for a ticketed access package appear here.'}
        </Empty>
      ) : (
        <DataTable
          label="Access requests"
          rows={rows}
          rowKey={(i) => i.id}
          columns={[
            {
              label: 'Request',
              render: (i) => <Link to={`/entitlement/${encodeURIComponent(i.id)}`}>{i.requestId ?? i.id}</Link>,
            },
            { label: 'Stage', render: (i) => i.stage },
            { label: 'Status', render: (i) => <StatusBadge status={i.status} /> },
            { label: 'Ticket', render: (i) => <TicketLink ticket={i.ticket} /> },
            { label: 'Deadline', render: (i) => <Deadline deadline={i.deadline} waiting={WAITING.has(i.status)} /> },
            { label: 'Received', render: (i) => dateTime(i.receivedAt) },
          ]}
        />
      )}
      <Pager offset={offset} limit={LIMIT} shown={rows.length} total={items.data?.total} onOffset={setOffset} />
    </>
  );
}
