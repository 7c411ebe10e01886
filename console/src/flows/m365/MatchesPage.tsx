import { Button, Field, Select, Text } from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Filters, Loading, PageHeader, StatusBadge, TicketLink } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { M365 } from './data.ts';
import {
  decideMatch,
  loadMatches,
  MATCH_STATUSES,
  noneOfThem,
  type MatchRow,
  type MatchStatus,
} from './matches-data.ts';

/**
 * Incidents matched to Microsoft 365 health issues as they arrived, with the reasons, for an agent to
 * confirm or reject (or say none of them): the answers are kept and the matcher uses them.
 */

function Actions({ row, onDone }: { row: MatchRow; onDone(): void }) {
  const decide = useMutation({
    mutationFn: (v: 'confirm' | 'reject' | 'none') =>
      v === 'none' ? noneOfThem(row.incident.id) : decideMatch(row.incident.id, row.issue, v),
    onSuccess: onDone,
  });
  const label = `${row.incident.key} and ${row.issue}`;
  return (
    <>
      {row.status !== 'confirmed' && (
        <Button size="small" aria-label={`Confirm ${label}`} onClick={() => decide.mutate('confirm')}>
          Confirm
        </Button>
      )}{' '}
      {row.status !== 'rejected' && (
        <Button size="small" aria-label={`Reject ${label}`} onClick={() => decide.mutate('reject')}>
          Reject
        </Button>
      )}{' '}
      {row.status === 'suggested' && row.rank === 1 && (
        <Button
          size="small"
          appearance="subtle"
          aria-label={`None of these for ${row.incident.key}`}
          onClick={() => decide.mutate('none')}
        >
          None of these
        </Button>
      )}
      <ErrorBar error={decide.error} />
    </>
  );
}

export default function MatchesPage() {
  const [status, setStatus] = useState<MatchStatus | ''>('suggested');
  const client = useQueryClient();
  const list = useQuery({
    queryKey: [...M365, 'matches', status],
    queryFn: () => loadMatches(status),
    refetchInterval: 60_000,
  });
  const refresh = () => void client.invalidateQueries({ queryKey: [...M365, 'matches'] });
  const columns: Column<MatchRow>[] = [
    {
      label: 'Incident',
      render: (m) => (
        <>
          <TicketLink ticket={m.incident} />
          <Text block size={200}>
            {m.title}
          </Text>
        </>
      ),
    },
    { label: 'Health issue', render: (m) => m.issue },
    { label: 'Score', render: (m) => (m.score === null ? '—' : m.score.toFixed(2)) },
    { label: 'Why', render: (m) => <Text size={200}>{m.why}</Text> },
    {
      label: 'Status',
      render: (m) => (
        <>
          <StatusBadge status={m.status} />
          {m.verdictBy && (
            <Text block size={200}>
              {m.verdictBy}, {dateTime(m.verdictAt)}
              {m.comment ? `: ${m.comment}` : ''}
            </Text>
          )}
        </>
      ),
    },
    { label: 'Answer', render: (m) => <Actions row={m} onDone={refresh} /> },
  ];
  const rows = list.data?.items ?? [];
  return (
    <>
      <PageHeader title="Microsoft 365 matches" />
      <Filters>
        <Field label="Status">
          <Select value={status} onChange={(_e, d) => setStatus(d.value as MatchStatus | '')}>
            <option value="">all</option>
            {MATCH_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </Select>
        </Field>
      </Filters>
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading matches" />
      ) : rows.length === 0 ? (
        <Empty>No {status || ''} match. Incidents are matched as the feed reads them (feed.enabled).</Empty>
      ) : (
        <DataTable label="Matches" columns={columns} rows={rows} rowKey={(m) => `${m.incident.id}:${m.issue}`} />
      )}
    </>
  );
}
