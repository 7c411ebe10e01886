import { Badge, Button, Card, Field, Input, Link, Switch, Text } from '@fluentui/react-components';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Filters, Loading, Notice, PageHeader } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { useSession } from '../../auth/session.tsx';
import { loadIssues, M365, searchSolutions, writeSolutions, type HealthIssueRow } from './data.ts';

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

/** Write the articles found to an incident as one work note (the API writes a set only once). */
function WriteToIncident({ q, urls }: { q: string; urls: string[] }) {
  const [number, setNumber] = useState('');
  const write = useMutation({ mutationFn: () => writeSolutions(number.trim(), q, urls) });
  return (
    <form
      aria-label="Write to incident"
      onSubmit={(e) => {
        e.preventDefault();
        if (number.trim()) write.mutate();
      }}
    >
      <Field label="Incident number" hint="The articles above go to the incident as one work note">
        <Input value={number} onChange={(_e, d) => setNumber(d.value)} placeholder="INC0010001" />
      </Field>
      <Button type="submit" disabled={!number.trim() || write.isPending}>
        Write to incident
      </Button>
      {write.data && (
        <Notice intent="success">
          {write.data.state === 'writing'
            ? `${write.data.articles.length} article(s) written to ${write.data.incident}.`
            : `These articles are already on ${write.data.incident}.`}
        </Notice>
      )}
      <ErrorBar error={write.error} />
    </form>
  );
}

function Solutions() {
  const { can } = useSession();
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
      {search.data && search.data.items.length > 0 && can('POST', '/api/m365/solutions/write') && (
        <WriteToIncident
          key={search.variables}
          q={search.variables ?? q}
          urls={search.data.items.slice(0, 10).map((s) => s.url)}
        />
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
