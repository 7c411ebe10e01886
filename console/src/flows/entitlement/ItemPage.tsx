import {
  Button,
  Card,
  makeStyles,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, call } from '../../api/client.ts';
import { useSession } from '../../auth/session.tsx';
import {
  Empty,
  ErrorBar,
  Loading,
  Notice,
  PageHeader,
  Scroll,
  StatusBadge,
  TicketLink,
} from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { Deadline, WAITING } from './Countdown.tsx';

/** One access-request stage: its request, ticket, deadline, timeline (audit rows) and jobs. */

const useStyles = makeStyles({
  facts: {
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    gap: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`,
    margin: 0,
  },
  term: { fontWeight: tokens.fontWeightSemibold },
  detail: { margin: 0, overflowWrap: 'anywhere' },
  section: { marginTop: tokens.spacingVerticalXL, marginBottom: tokens.spacingVerticalS },
});

export default function ItemPage() {
  const styles = useStyles();
  const { id = '' } = useParams();
  const { can } = useSession();
  const queries = useQueryClient();
  const item = useQuery({
    queryKey: ['entitlement-item', id],
    queryFn: () => call(api.GET('/api/entitlement/items/{id}', { params: { path: { id } } })),
    refetchInterval: 5_000,
  });
  const retry = useMutation({
    mutationFn: (jobId: string) => call(api.POST('/api/jobs/{id}/retry', { params: { path: { id: jobId } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['entitlement-item', id] }),
  });
  if (item.isPending) return <Loading label="Loading the request" />;
  if (item.error) return <ErrorBar error={item.error} />;
  const { item: i, timeline, jobs } = item.data;
  const deadResume = jobs.find((j) => j.state === 'dead' && j.kind === 'entitlement.resume');
  const fact = (term: string, value: React.ReactNode) => (
    <>
      <dt className={styles.term}>{term}</dt>
      <dd className={styles.detail}>{value}</dd>
    </>
  );
  return (
    <>
      <PageHeader title={`Request ${i.requestId ?? i.id}`}>
        <Link to="/entitlement">All requests</Link>
      </PageHeader>
      {retry.isSuccess && <Notice>The resume is back in the queue.</Notice>}
      <ErrorBar error={retry.error} />
      <Card>
        <dl className={styles.facts}>
          {fact('Status', <StatusBadge status={i.status} />)}
          {fact('Stage', i.stage)}
          {fact('Integration', i.integration)}
          {fact('Ticket', <TicketLink ticket={i.ticket} />)}
          {fact('Deadline', <Deadline deadline={i.deadline} waiting={WAITING.has(i.status)} />)}
          {fact('Received', dateTime(i.receivedAt))}
          {i.reason && fact('Why', i.reason)}
        </dl>
        {deadResume && (
          <div>
            <Text>The resume failed for good: {deadResume.lastError ?? 'no error recorded'}.</Text>{' '}
            {can('POST', '/api/jobs/{id}/retry') && (
              <Button appearance="primary" onClick={() => retry.mutate(deadResume.id)} disabled={retry.isPending}>
                Retry the resume
              </Button>
            )}
          </div>
        )}
      </Card>

      <Title3 as="h2" className={styles.section}>
        Timeline
      </Title3>
      {timeline.length === 0 ? (
        <Empty>Nothing recorded yet.</Empty>
      ) : (
        <ol aria-label="Timeline">
          {timeline.map((t) => (
            <li key={t.seq}>
              <Text>
                {dateTime(t.at)} — {t.action} <Text size={200}>({t.actor})</Text>
              </Text>
            </li>
          ))}
        </ol>
      )}

      <Title3 as="h2" className={styles.section}>
        Jobs
      </Title3>
      <Scroll label="Jobs of this request">
        <Table aria-label="Jobs of this request">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Kind</TableHeaderCell>
              <TableHeaderCell>State</TableHeaderCell>
              <TableHeaderCell>Attempts</TableHeaderCell>
              <TableHeaderCell>Last error</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {jobs.map((j) => (
              <TableRow key={j.id}>
                <TableCell>{j.kind}</TableCell>
                <TableCell>
                  <StatusBadge status={j.state} />
                </TableCell>
                <TableCell>{j.attempts}</TableCell>
                <TableCell>{j.lastError ?? '—'}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </Scroll>
    </>
  );
}
