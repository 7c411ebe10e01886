import { Button, Card, makeStyles, ProgressBar, Text, Title3, tokens } from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { api, call } from '../../api/client.ts';
import { useSession } from '../../auth/session.tsx';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorBar, Loading, Notice, PageHeader } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { DeleteIntegration } from './DeleteIntegration.tsx';
import { describeScope, passSummary, progressText, type PassFigures } from './logic.ts';

/**
 * One Defender integration: its settings (secrets shown only as "set"), "Test the connection",
 * "Reconcile now" with the pass's progress polled while it runs, and delete with its cascade; what stops
 * it (its `problems`: owner or caller unset or unknown in the ITSM) with the fix of each.
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
    marginTop: tokens.spacingVerticalXL,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
  },
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
});

type Mapping = { mode?: string; assignedTo?: string; caller?: string; fields?: Record<string, string> } & Record<
  string,
  unknown
>;

export default function IntegrationPage() {
  const styles = useStyles();
  const { name = '' } = useParams();
  const created = (useLocation().state as { created?: boolean } | null)?.created;
  const { can } = useSession();
  const queries = useQueryClient();
  const path = { path: { name } };
  const integration = useQuery({
    queryKey: ['defender-integration', name],
    queryFn: () => call(api.GET('/api/defender/integrations/{name}', { params: path })),
  });
  // The pass started here: watched until a newer finished pass shows up.
  const [watch, setWatch] = useState<{ before: unknown } | undefined>();
  const pass = useQuery({
    queryKey: ['defender-reconcile', name],
    queryFn: () => call(api.GET('/api/defender/integrations/{name}/reconcile', { params: path })),
    refetchInterval: watch ? 1_000 : 15_000,
  });
  const last = (pass.data?.last ?? null) as PassFigures & { pass?: number };
  const finished = watch && pass.data?.state === 'idle' && last?.pass !== watch.before;
  useEffect(() => {
    if (!finished) return;
    setWatch(undefined);
    void queries.invalidateQueries({ queryKey: ['defender-integration', name] });
  }, [finished, queries, name]);
  const reconcile = useMutation({
    mutationFn: () => call(api.POST('/api/defender/integrations/{name}/reconcile', { params: path })),
    onMutate: () => setWatch({ before: last?.pass }),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['defender-reconcile', name] }),
    onError: () => setWatch(undefined),
  });
  const check = useMutation({
    mutationFn: () => call(api.POST('/api/defender/integrations/{name}/check', { params: path })),
  });

  if (integration.isPending) return <Loading label="Loading the integration" />;
  if (integration.error) return <ErrorBar error={integration.error} />;
  const i = integration.data;
  const config = i.config as Record<string, unknown> & { mapping?: Mapping; filters?: { severities?: string[] } };
  const scope = describeScope(String(config.scope ?? ''));
  const mapping = config.mapping ?? {};
  const running = watch || pass.data?.state === 'running' || pass.data?.state === 'queued';
  const fact = (term: string, value: React.ReactNode) => (
    <>
      <dt className={styles.term}>{term}</dt>
      <dd className={styles.detail}>{value}</dd>
    </>
  );
  const customized = Object.entries(mapping).filter(([k, v]) => k !== 'mode' && v !== undefined && k !== 'description');

  return (
    <>
      <PageHeader title={`Integration ${i.name}`}>
        <Link to={`/defender/assignments?integration=${encodeURIComponent(i.name)}`}>Its assignments</Link>
        {can('POST', '/api/defender/assignments') && (
          <Link to={`/defender/integrations/${encodeURIComponent(i.name)}/assign`}>Create assignment</Link>
        )}
        <Link to={`/defender/integrations/${encodeURIComponent(i.name)}/manual`}>Manual assignments</Link>
        <Link to="/defender">All integrations</Link>
      </PageHeader>
      {created && <Notice>The integration is created; its first pass starts now.</Notice>}
      {i.problems.length > 0 && (
        <section className={styles.section} aria-labelledby="problems-title">
          <Notice intent="warning">
            <span id="problems-title">
              Reconcile is stopped: no ticket is opened until the mapping names people the ITSM knows.
            </span>
          </Notice>
          <ul aria-label="Integration problems">
            {i.problems.map((p) => (
              <li key={p.field}>
                <Text block>{p.message}</Text>
                {p.fix && <Text block>Fix: {p.fix}</Text>}
              </li>
            ))}
          </ul>
        </section>
      )}
      <Card>
        <dl className={styles.facts}>
          {fact(scope.kind, <code>{String(config.scope)}</code>)}
          {fact('ITSM connection', String(config.itsm ?? '—'))}
          {fact('Tickets', `${String(config.ticketType ?? 'incident')}, one per ${String(config.grouping)}`)}
          {fact('Severities', config.filters?.severities?.join(', ') ?? 'all')}
          {fact('Daily cap', String(config.dailyCap ?? '—'))}
          {fact('Field mapping', String(mapping.mode ?? 'default'))}
          {customized.map(([k, v]) => fact(k, typeof v === 'object' ? JSON.stringify(v) : String(v)))}
          {fact('Defined in', i.source === 'api' ? 'the console / API' : 'the config file')}
          {fact('Enabled', config.enabled === false ? 'no' : 'yes')}
        </dl>
      </Card>

      <section className={styles.section} aria-labelledby="reconcile-title">
        <Title3 as="h2" id="reconcile-title">
          Reconcile
        </Title3>
        <Text>Last pass: {last ? `${passSummary(last)} (${dateTime(last.at)})` : 'none has finished yet'}.</Text>
        {running && (
          <div role="status" aria-live="polite">
            <ProgressBar thickness="large" aria-label="Reconcile pass progress" />
            <Text>
              {progressText(
                watch && pass.data?.state === 'idle' ? 'queued' : (pass.data?.state ?? 'queued'),
                (pass.data?.current ?? null) as PassFigures | null,
              )}
            </Text>
          </div>
        )}
        {!running && reconcile.isSuccess && <Notice>The pass finished: {passSummary(last)}.</Notice>}
        <ErrorBar error={reconcile.error ?? pass.error} />
        <div className={styles.actions}>
          {can('POST', '/api/defender/integrations/{name}/reconcile') && (
            <Button appearance="primary" onClick={() => reconcile.mutate()} disabled={!!running}>
              {running ? 'Reconciling…' : 'Reconcile now'}
            </Button>
          )}
          {can('POST', '/api/defender/integrations/{name}/check') && (
            <Button onClick={() => check.mutate()} disabled={check.isPending}>
              {check.isPending ? 'Testing…' : 'Test the connection'}
            </Button>
          )}
          {can('DELETE', '/api/defender/integrations/{name}') && i.source === 'api' && (
            <DeleteIntegration name={i.name} />
          )}
        </div>
        {i.source === 'config' && can('DELETE', '/api/defender/integrations/{name}') && (
          <Text size={200}>Defined in the config file: remove it there to delete it.</Text>
        )}
      </section>

      <ErrorBar error={check.error} />
      {check.data && (
        <section className={styles.section} aria-labelledby="check-title">
          <Title3 as="h2" id="check-title">
            Connection test
          </Title3>
          <DataTable
            label="Connection test results"
            rows={check.data.results.map((r, n) => ({ ...r, n }))}
            rowKey={(r) => String(r.n)}
            columns={[
              { label: 'Result', render: (r) => (r.ok ? '✓ ok' : '✗ failed') },
              { label: 'Connection', render: (r) => r.target },
              { label: 'Check', render: (r) => r.check },
              {
                label: 'Detail',
                render: (r) => (
                  <>
                    <Text>{r.detail}</Text>
                    {r.fix && <Text block>Fix: {r.fix}</Text>}
                  </>
                ),
              },
            ]}
          />
        </section>
      )}
    </>
  );
}
