import { Badge, Button, Card, Field, Input, Link, Switch, Text } from '@fluentui/react-components';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Filters, Loading, Notice, PageHeader } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { loadIssues, M365, searchSolutions, type HealthIssueRow } from './data.ts';

/**
 * Microsoft 365 service health as Ticketloop last read it from Graph, with what the posts say at a
 * glance (current status, user impact, next update), and a search for recommended solutions in the
 * ITSM's knowledge base and Microsoft Learn.
 */

const COLUMNS: Column<HealthIssueRow>[] = [
  {
    label: 'Issue',
    render: (i) => (
      <>
        <Text block weight="semibold">
          {i.id}
        </Text>
        <Text size={200}>{i.title}</Text>
      </>
    ),
  },
  { label: 'Service', render: (i) => i.service },
  { label: 'Status', render: (i) => (i.isResolved ? `${i.status} (resolved)` : i.status) },
  { label: 'Current status', render: (i) => <Text size={200}>{i.summary.currentStatus ?? '—'}</Text> },
  { label: 'Next update', render: (i) => i.summary.nextUpdateBy?.text ?? '—' },
  { label: 'Started', render: (i) => dateTime(i.startDateTime) },
  { label: 'Last update', render: (i) => dateTime(i.lastModifiedDateTime) },
];

function Solutions() {
  const [q, setQ] = useState('');
  const search = useMutation({ mutationFn: (text: string) => searchSolutions(text) });
  return (
    <Card>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (q.trim()) search.mutate(q.trim());
        }}
      >
        <Field label="Describe the problem">
          <Input value={q} onChange={(_e, d) => setQ(d.value)} placeholder="outlook not sending since 9" />
        </Field>
        <Button type="submit" appearance="primary" disabled={!q.trim() || search.isPending}>
          Find recommended solutions
        </Button>
      </form>
      <ErrorBar error={search.error} />
      {search.data?.warnings.map((w) => (
        <Notice key={w} intent="warning">
          {w}
        </Notice>
      ))}
      {search.data && search.data.items.length === 0 && <Empty>No article found for this text.</Empty>}
      {search.data && search.data.items.length > 0 && (
        <ul aria-label="Recommended solutions">
          {search.data.items.map((s) => (
            <li key={s.url}>
              <Badge appearance="outline">
                {s.source === 'knowledge' ? (s.number ?? 'Knowledge') : 'Microsoft Learn'}
              </Badge>{' '}
              <Link href={s.url} target="_blank" rel="noreferrer">
                {s.title}
              </Link>
              {s.snippet && (
                <Text block size={200}>
                  {s.snippet}
                </Text>
              )}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export default function HealthPage() {
  const [open, setOpen] = useState(true);
  const list = useQuery({
    queryKey: [...M365, 'issues', open],
    queryFn: () => loadIssues(open),
    refetchInterval: 60_000,
  });
  const rows = list.data?.items ?? [];
  return (
    <>
      <PageHeader title="Microsoft 365 service health" />
      <Solutions />
      <Filters>
        <Switch label="Open issues only" checked={open} onChange={(_e, d) => setOpen(d.checked)} />
      </Filters>
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading service health" />
      ) : rows.length === 0 ? (
        <Empty>No {open ? 'open ' : ''}service health issue (as of the last read).</Empty>
      ) : (
        <DataTable label="Service health issues" columns={COLUMNS} rows={rows} rowKey={(i) => i.id} />
      )}
    </>
  );
}
