import { Switch, Text } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Filters, Loading, PageHeader } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { loadDrift, POD } from './data.ts';
import { DRIFT_KINDS, driftTarget } from './logic.ts';
import type { DriftRow } from './types.ts';

/**
 * Drift between the grant ledger and the providers, found by the reconcile schedule: a grant gone
 * from the provider, a revoked one still there, or a managed permission assigned outside Ticketloop.
 */

const COLUMNS: Column<DriftRow>[] = [
  { label: 'Kind', render: (d) => DRIFT_KINDS[d.kind] ?? d.kind },
  {
    label: 'Who',
    render: (d) => {
      const t = driftTarget(d.target);
      return <Text size={200}>{`${t.type} ${t.principal}`}</Text>;
    },
  },
  {
    label: 'What, where',
    render: (d) => {
      const t = driftTarget(d.target);
      return (
        <>
          <Text block size={200}>
            {t.permission} ({d.system})
          </Text>
          <Text size={200}>{t.scope}</Text>
        </>
      );
    },
  },
  { label: 'Detail', render: (d) => d.detail },
  { label: 'First seen', render: (d) => dateTime(d.firstSeen) },
  { label: 'Last seen', render: (d) => dateTime(d.lastSeen) },
  { label: 'Resolved', render: (d) => (d.resolvedAt ? dateTime(d.resolvedAt) : 'open') },
];

export default function DriftPage() {
  const [resolved, setResolved] = useState(false);
  const list = useQuery({
    queryKey: [...POD, 'drift', resolved],
    queryFn: () => loadDrift(resolved),
    refetchInterval: 30_000,
  });
  const rows = list.data?.items ?? [];
  return (
    <>
      <PageHeader title="Permission drift" />
      <Filters>
        <Switch label="Show resolved drift too" checked={resolved} onChange={(_e, d) => setResolved(d.checked)} />
      </Filters>
      <ErrorBar error={list.error} />
      {list.isPending ? (
        <Loading label="Loading drift" />
      ) : rows.length === 0 ? (
        <Empty>No drift: what the providers hold matches the grant ledger (as of the last reconcile).</Empty>
      ) : (
        <DataTable
          label="Drift"
          columns={COLUMNS}
          rows={rows}
          rowKey={(d) => `${d.integration}/${d.target}/${d.kind}`}
        />
      )}
    </>
  );
}
