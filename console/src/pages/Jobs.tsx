import {
  Button,
  Field,
  Input,
  Select,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client.ts';
import { useSession } from '../auth/session.tsx';
import {
  Empty,
  ErrorBar,
  Filters,
  Loading,
  Notice,
  PageHeader,
  Pager,
  Scroll,
  StatusBadge,
} from '../components/common.tsx';
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
        <Scroll label="Jobs">
          <Table aria-label="Jobs">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Kind</TableHeaderCell>
                <TableHeaderCell>State</TableHeaderCell>
                <TableHeaderCell>Attempts</TableHeaderCell>
                <TableHeaderCell>Runs at</TableHeaderCell>
                <TableHeaderCell>Last error</TableHeaderCell>
                {mayRetry && <TableHeaderCell>Action</TableHeaderCell>}
              </TableRow>
            </TableHeader>
            <TableBody>
              {rows.map((j) => (
                <TableRow key={j.id}>
                  <TableCell>{j.kind}</TableCell>
                  <TableCell>
                    <StatusBadge status={j.state} />
                  </TableCell>
                  <TableCell>{`${j.attempts} / ${j.maxAttempts}`}</TableCell>
                  <TableCell>{dateTime(j.runAt)}</TableCell>
                  <TableCell>{j.lastError ?? '—'}</TableCell>
                  {mayRetry && (
                    <TableCell>
                      {j.state === 'dead' && (
                        <Button
                          size="small"
                          onClick={() => retryOne.mutate(j.id)}
                          aria-label={`Retry ${j.kind} ${j.key}`}
                        >
                          Retry
                        </Button>
                      )}
                    </TableCell>
                  )}
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Scroll>
      )}
      <Pager offset={offset} limit={LIMIT} shown={rows.length} onOffset={setOffset} />
    </>
  );
}
