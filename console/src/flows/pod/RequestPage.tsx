import {
  Card,
  makeStyles,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Text,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { DataTable } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, Notice, PageHeader, StatusBadge, TicketLink } from '../../components/common.tsx';
import { dateTime, words } from '../../lib/format.ts';
import { loadRequest, POD, POLL_MS } from './data.ts';
import { DecisionLinkDialog } from './DecisionLinkDialog.tsx';
import { identityText, spokenDuration, timeline } from './logic.ts';
import { RequestActions } from './RequestActions.tsx';
import { TimeLeft } from './TimeLeft.tsx';
import type { PodJob } from './types.ts';

/**
 * One request: what was asked, its timeline (approvals, the grant with its start, end and the
 * provider's state), what a revoke does not end, its jobs with their last error, and the actions
 * this user may take.
 */

const useStyles = makeStyles({
  facts: {
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    gap: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`,
    margin: 0,
  },
  term: { fontWeight: tokens.fontWeightSemibold },
  detail: { margin: 0, overflowWrap: 'anywhere' },
  section: {
    marginTop: tokens.spacingVerticalXXL,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
  },
  timeline: { margin: 0, paddingLeft: tokens.spacingHorizontalXL, '& li': { marginBottom: tokens.spacingVerticalS } },
  actions: { marginTop: tokens.spacingVerticalM },
});

const JOB_COLUMNS = [
  { label: 'Kind', render: (j: PodJob) => j.kind },
  { label: 'State', render: (j: PodJob) => <StatusBadge status={j.state} /> },
  { label: 'Attempts', render: (j: PodJob) => String(j.attempts) },
  { label: 'Next run', render: (j: PodJob) => dateTime(j.run_at) },
  { label: 'Last error', render: (j: PodJob) => j.last_error ?? '—' },
];

export default function RequestPage() {
  const styles = useStyles();
  const { id = '' } = useParams();
  const submitted = (useLocation().state as { submitted?: boolean } | null)?.submitted;
  const [done, setDone] = useState<string>();
  const request = useQuery({
    queryKey: [...POD, 'request', id],
    queryFn: () => loadRequest(id),
    refetchInterval: POLL_MS,
  });
  if (request.isPending) return <Loading label="Loading the request" />;
  if (request.error) return <ErrorBar error={request.error} />;
  const r = request.data;
  const fact = (term: string, value: ReactNode) => (
    <>
      <dt className={styles.term}>{term}</dt>
      <dd className={styles.detail}>{value}</dd>
    </>
  );
  const approvals = r.approvals.filter((a) => a.decision === 'approved').length;
  return (
    <>
      <PageHeader title={`Request for ${r.permission}`}>
        <Link to="/pod/mine">My requests</Link>
      </PageHeader>
      {submitted && !done && <Notice>Your request is sent.</Notice>}
      {done && <Notice>{done}</Notice>}
      <Card>
        <dl className={styles.facts}>
          {fact('Status', <StatusBadge status={r.status} />)}
          {fact('Permission', `${r.permission} (${r.permissionDisplayName})`)}
          {fact('System', `${r.system} (${r.provider})`)}
          {fact('Scope', <code>{r.scope}</code>)}
          {fact('For', identityText(r.identity))}
          {fact('Asked by', r.requester)}
          {fact('Duration', spokenDuration(r.duration))}
          {fact('Time left', <TimeLeft request={r} />)}
          {fact('Why', r.justification || '—')}
          {fact('Ticket', r.ticket ? <TicketLink ticket={r.ticket} /> : (r.ticketNumber ?? '—'))}
          {fact(
            'Policy',
            `${r.policy.name}: ${r.policy.autoApproved ?? `${approvals} of ${r.policy.quorum} approval(s), by ${r.policy.approvers.join(', ') || 'nobody'}`}`,
          )}
        </dl>
        <DecisionLinkDialog request={r} onDone={setDone} />
        <div className={styles.actions}>
          <RequestActions
            request={r}
            onDone={(kind, now) => setDone(`Done: ${kind}. The request is now ${words(now.status)}.`)}
          />
        </div>
      </Card>
      {r.error && (
        <MessageBar intent="error" role="alert">
          <MessageBarBody>
            <MessageBarTitle>The provider answered with an error</MessageBarTitle>
            {r.error}
          </MessageBarBody>
        </MessageBar>
      )}
      {r.grant && (
        <section className={styles.section} aria-labelledby="grant-title">
          <Title3 as="h2" id="grant-title">
            The grant
          </Title3>
          <dl className={styles.facts}>
            {fact('Granted at', dateTime(r.grant.grantedAt))}
            {fact('Expires at', dateTime(r.grant.expiresAt))}
            {fact('Revoked at', dateTime(r.grant.revokedAt))}
            {fact('Provider says', r.grant.providerState ?? '—')}
            {r.grant.providerEndsAt && fact('Provider ends it at', dateTime(r.grant.providerEndsAt))}
          </dl>
          {r.grant.providerEndError && (
            <Notice intent="warning">
              The provider's end could not be moved to this grant's end: {r.grant.providerEndError}
            </Notice>
          )}
          {r.grant.preexisting && (
            <Notice intent="info">
              This access existed before Ticketloop granted it: ending this grant leaves it in place.
            </Notice>
          )}
        </section>
      )}

      <section className={styles.section} aria-labelledby="caveat-title">
        <Title3 as="h2" id="caveat-title">
          What a revoke does not end
        </Title3>
        <Text block>{r.revokeCaveat}</Text>
      </section>

      <section className={styles.section} aria-labelledby="timeline-title">
        <Title3 as="h2" id="timeline-title">
          Timeline
        </Title3>
        <ol aria-label="Timeline" className={styles.timeline}>
          {timeline(r).map((e, n) => (
            <li key={n}>
              <Text weight="semibold">{e.what}</Text> <Text>{dateTime(e.at)}</Text>
              {e.who && <Text size={200}> by {e.who}</Text>}
              {e.detail && (
                <Text block size={200}>
                  {e.detail}
                </Text>
              )}
            </li>
          ))}
        </ol>
      </section>

      <section className={styles.section} aria-labelledby="jobs-title">
        <Title3 as="h2" id="jobs-title">
          Jobs
        </Title3>
        {r.jobs.length === 0 ? (
          <Empty>No job yet.</Empty>
        ) : (
          <DataTable label="Jobs of this request" columns={JOB_COLUMNS} rows={r.jobs} rowKey={(j) => j.id} />
        )}
      </section>
    </>
  );
}
