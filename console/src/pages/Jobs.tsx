import { Button, Field, Input, Select } from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable } from '../components/DataTable.tsx';
import { api, call } from '../api/client.ts';
import { useSession } from '../auth/session.tsx';
import { Empty, ErrorBar, Filters, Loading, Notice, PageHeader, Pager, StatusBadge } from '../components/common.tsx';
import { dateTime } from '../lib/format.ts';

/** The job queue by state and kind; dead letters with their last error; retry one or all (operators). */

const STATES = ['ready', 'running', 'done', 'dead'] as const;
type State = (typeof STATES)[number];
const LIMIT = 50;

export default function Jobs() {
  const { can } = useSession();
  const queries = useQueryClient();
  const [state, setState] = useState<State | ''>('dead');
  const [kind, setKind] = useState('');
  const [offset, setOffset] = useState(0);
  const [notice, setNotice] = useState<string>();
  const query = { state: state || undefined, kind: kind || undefined, limit: LIMIT, offset };
  const jobs = useQuery({
    queryKey: ['jobs', query],
    queryFn: () => call(api.GET('/api/jobs', { params: { query } })),
    refetchInterval: 5_000,
  });
  const done = (n: number) => {
    setNotice(`${n} job${n === 1 ? '' : 's'} put back in the queue.`);
    void queries.invalidateQueries({ queryKey: ['jobs'] });
  };
  const retryOne = useMutation({
    mutationFn: (id: string) => call(api.POST('/api/jobs/{id}/retry', { params: { path: { id } } })),
    onSuccess: (r) => done(r.retried),
  });
  const retryAll = useMutation({
    mutationFn: () => call(api.POST('/api/jobs/retry-dead')),
    onSuccess: (r) => done(r.retried),
  });
  const mayRetry = can('POST', '/api/jobs/{id}/retry');
  const rows = jobs.data?.jobs ?? [];
  return (
    <>
      <PageHeader title="Jobs">
        {can('POST', '/api/jobs/retry-dead') && (
          <Button appearance="primary" onClick={() => retryAll.mutate()} disabled={retryAll.isPending}>
            Retry all dead jobs
          </Button>
        )}
      </PageHeader>
      <Filters>
        <Field label="State">
          <Select
            value={state}
            onChange={(_e, d) => {
              setState(d.value as State | '');
              setOffset(0);
            }}
          >
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Kind">
          <Input
            value={kind}
            placeholder="e.g. entitlement.resume"
            onChange={(_e, d) => {
              setKind(d.value);
              setOffset(0);
            }}
          />
        </Field>
      </Filters>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBar error={jobs.error ?? retryOne.error ?? retryAll.error} />
      {jobs.isPending ? (
        <Loading label="Loading jobs" />
      ) : rows.length === 0 ? (
        <Empty>{state === 'dead' ? 'No dead job: nothing has failed for good.' : 'No job matches.'}</Empty>
      ) : (
        <DataTable
          label="Jobs"
          rows={rows}
          rowKey={(j) => j.id}
          columns={[
            { label: 'Kind', render: (j) => j.kind },
            { label: 'State', render: (j) => <StatusBadge status={j.state} /> },
            { label: 'Attempts', render: (j) => `${j.attempts} / ${j.maxAttempts}` },
            { label: 'Runs at', render: (j) => dateTime(j.runAt) },
            { label: 'Last error', render: (j) => j.lastError ?? '—' },
            ...(mayRetry
              ? [
                  {
                    label: 'Action',
                    render: (j: (typeof rows)[number]) =>
                      j.state === 'dead' && (
                        <Button
                          size="small"
                          onClick={() => retryOne.mutate(j.id)}
                          aria-label={`Retry ${j.kind} ${j.key}`}
                        >
                          Retry
                        </Button>
                      ),
                  },
                ]
              : []),
          ]}
        />
      )}
      <Pager offset={offset} limit={LIMIT} shown={rows.length} onOffset={setOffset} />
    </>
  );
}
