import { Badge, Button, Field, Input, Select, Text } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, call } from '../../api/client.ts';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Filters, Loading, PageHeader, StatusBadge, TicketLink } from '../../components/common.tsx';
import { dateTime, words } from '../../lib/format.ts';
import { assignmentQuery, csvHref, NO_FILTERS, SEVERITIES, type AssignmentFilters } from './logic.ts';

/**
 * Assignments: every tracked unhealthy assessment with its owner, due date and ticket. Filters by
 * scope, severity, status, owner and overdue (kept in the address, so a view can be shared),
 * keyset paging, and the same query as CSV.
 */

const STATUSES = ['open', 'ticket_open', 'resolving', 'resolved', 'closed_unhealthy', 'deleted', 'capped'] as const;
const LIMIT = 50;

type Assignment = Awaited<ReturnType<typeof load>>['assignments'][number];
const load = (q: Record<string, string>, cursor: string | undefined) =>
  call(api.GET('/api/defender/assignments', { params: { query: { ...q, limit: LIMIT, cursor } as never } }));

const COLUMNS: Column<Assignment>[] = [
  {
    label: 'Recommendation',
    render: (a) => (
      <>
        <Text block>{a.title}</Text>
        <Text size={200}>{a.integration}</Text>
      </>
    ),
  },
  { label: 'Resource', render: (a) => <Text size={200}>{a.resourceId}</Text> },
  { label: 'Severity', render: (a) => a.severity },
  { label: 'Status', render: (a) => <StatusBadge status={a.status} /> },
  { label: 'Owner', render: (a) => `${a.owner ?? '—'}${a.manual ? ' (manual)' : ''}` },
  {
    label: 'Due',
    render: (a) => (
      <>
        {dateTime(a.dueDate)}{' '}
        {a.overdue && (
          <Badge appearance="filled" color="danger">
            overdue
          </Badge>
        )}
      </>
    ),
  },
  {
    label: 'Ticket',
    render: (a) => (
      <TicketLink ticket={a.ticketNumber && a.ticketLink ? { key: a.ticketNumber, link: a.ticketLink } : null} />
    ),
  },
];

export default function AssignmentsPage() {
  const [params, setParams] = useSearchParams();
  const filters: AssignmentFilters = { ...NO_FILTERS, ...Object.fromEntries(params) };
  const [draft, setDraft] = useState<AssignmentFilters>(filters);
  // Keyset paging: the cursors of the pages before this one, so "Previous" goes back.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors.at(-1);
  const query = assignmentQuery(filters);
  const list = useQuery({
    queryKey: ['defender-assignments', query, cursor],
    queryFn: () => load(query, cursor),
    refetchInterval: 10_000,
  });
  const rows = list.data?.assignments ?? [];
  function apply(e: FormEvent) {
    e.preventDefault();
    setParams(assignmentQuery(draft));
    setCursors([undefined]);
  }
  const text = (k: keyof AssignmentFilters, label: string, hint?: string) => (
    <Field label={label} hint={hint}>
      <Input value={draft[k]} onChange={(_e, d) => setDraft({ ...draft, [k]: d.value })} />
    </Field>
  );
  const choice = (k: keyof AssignmentFilters, label: string, options: readonly string[]) => (
    <Field label={label}>
      <Select value={draft[k]} onChange={(_e, d) => setDraft({ ...draft, [k]: d.value })}>
        <option value="">any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {words(o)}
          </option>
        ))}
      </Select>
    </Field>
  );
  return (
    <>
      <PageHeader title="Defender assignments">
        <Link to="/defender">Integrations</Link>
        <a href={csvHref(filters)} download>
          Export CSV
        </a>
      </PageHeader>
      <form onSubmit={apply}>
        <Filters>
          {text('scope', 'Scope', 'subscription, group or resource id')}
          {choice('severity', 'Severity', SEVERITIES)}
          {choice('status', 'Status', STATUSES)}
          {text('owner', 'Owner')}
          {choice('overdue', 'Overdue', ['true', 'false'])}
          {text('integration', 'Integration')}
          <Button type="submit" appearance="primary">
            Filter
          </Button>
        </Filters>
      </form>
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading assignments" />
      ) : rows.length === 0 ? (
        <Empty>
          {Object.keys(query).length
            ? 'No assignment matches these filters.'
            : 'No unhealthy recommendation is tracked yet. After an integration’s first pass they show here.'}
        </Empty>
      ) : (
        <DataTable
          label="Assignments"
          columns={COLUMNS}
          rows={rows}
          rowKey={(a) => `${a.integration}/${a.assessmentKey}/${a.resourceId}`}
        />
      )}
      {(cursors.length > 1 || list.data?.nextCursor) && (
        <nav aria-label="Pages" style={{ display: 'flex', gap: 12, alignItems: 'center', marginTop: 12 }}>
          <Button disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </Button>
          <Text>Page {cursors.length}</Text>
          <Button
            disabled={!list.data?.nextCursor}
            onClick={() => setCursors([...cursors, list.data?.nextCursor ?? undefined])}
          >
            Next
          </Button>
        </nav>
      )}
    </>
  );
}
