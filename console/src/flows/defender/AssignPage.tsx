import {
  Button,
  Card,
  Checkbox,
  Field,
  Input,
  makeStyles,
  Select,
  Text,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError, call } from '../../api/client.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, Notice, PageHeader, TicketLink } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { assignErrors, assignmentBody, EMPTY_ASSIGN_FORM, type AssignForm } from './assign-logic.ts';

/**
 * "Create assignment", as in Defender: pick a recommendation of the integration, tick some of its
 * unhealthy resources, then fill the owner, caller, ticket type, timeframe, grace period and e-mail
 * switches. The API opens the ticket and writes the governance assignments as a pass would; later
 * passes keep what was chosen here. Resources that already have a manual assignment can't be ticked.
 */

const useStyles = makeStyles({
  section: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    marginTop: tokens.spacingVerticalL,
  },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '720px' },
  row: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalL, '& > *': { flexGrow: 1 } },
  resources: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalXS },
});

const TICKET_TYPES = [
  ['incident', 'Incident'],
  ['change_request', 'Change request'],
  ['problem', 'Problem'],
] as const;

export default function AssignPage() {
  const styles = useStyles();
  const { name = '' } = useParams();
  const queries = useQueryClient();
  const [key, setKey] = useState<string | undefined>();
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [form, setForm] = useState<AssignForm>(EMPTY_ASSIGN_FORM);
  const set = <K extends keyof AssignForm>(k: K, v: AssignForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const path = { path: { name } };
  const recommendations = useQuery({
    queryKey: ['defender-recommendations', name],
    queryFn: () => call(api.GET('/api/defender/integrations/{name}/recommendations', { params: path })),
  });
  const resources = useQuery({
    queryKey: ['defender-resources', name, key],
    enabled: !!key,
    queryFn: () =>
      call(
        api.GET('/api/defender/integrations/{name}/recommendations/{key}/resources', {
          params: { path: { name, key: key! } },
        }),
      ),
  });
  const create = useMutation({
    mutationFn: () =>
      call(api.POST('/api/defender/assignments', { body: assignmentBody(name, key!, [...picked], form) })),
    onSuccess: async () => {
      setPicked(new Set());
      await queries.invalidateQueries({ queryKey: ['defender-resources', name, key] });
    },
  });
  const problems = create.error instanceof ApiError ? assignErrors(create.error.details) : { fields: {}, other: [] };
  const errors: Record<string, string> = problems.fields;
  const chosen = recommendations.data?.recommendations.find((r) => r.assessmentKey === key);

  function choose(k: string) {
    setKey(k);
    setPicked(new Set());
    create.reset();
  }
  function toggle(id: string, on: boolean) {
    setPicked((p) => {
      const next = new Set(p);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  }
  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate();
  }
  const field = (
    k: string,
    label: string,
    control: React.ReactElement,
    o: { hint?: string; required?: boolean } = {},
  ) => (
    <Field
      label={label}
      hint={o.hint}
      required={o.required}
      validationState={errors[k] ? 'error' : 'none'}
      validationMessage={errors[k]}
    >
      {control}
    </Field>
  );

  return (
    <>
      <PageHeader title="Create assignment">
        <Link to={`/defender/integrations/${encodeURIComponent(name)}`}>Integration {name}</Link>
        <Link to={`/defender/assignments?integration=${encodeURIComponent(name)}`}>Its assignments</Link>
        <Link to={`/defender/integrations/${encodeURIComponent(name)}/manual`}>Manual assignments (edit, delete)</Link>
      </PageHeader>

      <section className={styles.section} aria-labelledby="recommendations-title">
        <Title3 as="h2" id="recommendations-title">
          1. Recommendation
        </Title3>
        {recommendations.isPending && <Loading label="Reading the recommendations from Defender" />}
        <ErrorBar error={recommendations.error} />
        {recommendations.data && !recommendations.data.recommendations.length && (
          <Empty>No recommendation has unhealthy resources at this integration's scope.</Empty>
        )}
        {!!recommendations.data?.recommendations.length && (
          <DataTable
            label="Recommendations with unhealthy resources"
            rows={recommendations.data.recommendations}
            rowKey={(r) => r.assessmentKey}
            columns={[
              { label: 'Recommendation', render: (r) => r.title },
              { label: 'Severity', render: (r) => r.severity },
              { label: 'Unhealthy', render: (r) => String(r.unhealthy) },
              {
                label: 'Action',
                render: (r) =>
                  r.assessmentKey === key ? (
                    <Text weight="semibold">Chosen</Text>
                  ) : (
                    <Button size="small" aria-label={`Choose ${r.title}`} onClick={() => choose(r.assessmentKey)}>
                      Choose
                    </Button>
                  ),
              },
            ]}
          />
        )}
      </section>

      {key && (
        <section className={styles.section} aria-labelledby="resources-title">
          <Title3 as="h2" id="resources-title">
            2. Unhealthy resources of “{chosen?.title ?? key}”
          </Title3>
          {resources.isPending && <Loading label="Reading the resources" />}
          <ErrorBar error={resources.error} />
          {resources.data?.truncated && (
            <Notice intent="warning">Only the first {resources.data.resources.length} resources are listed.</Notice>
          )}
          {resources.data && (
            <div className={styles.resources} role="group" aria-label="Resources">
              {resources.data.resources.map((r) => (
                <div key={r.resourceId}>
                  <Checkbox
                    label={r.resourceId}
                    checked={picked.has(r.resourceId)}
                    disabled={!!r.assignment?.manual && r.assignment.status !== 'resolved'}
                    onChange={(_, d) => toggle(r.resourceId, !!d.checked)}
                  />{' '}
                  {r.assignment && (
                    <Text size={200}>
                      {r.assignment.manual ? 'manual assignment' : 'automatic'}, {r.assignment.owner ?? 'no owner'}{' '}
                      <TicketLink
                        ticket={
                          r.assignment.ticketNumber && r.assignment.ticketLink
                            ? { key: r.assignment.ticketNumber, link: r.assignment.ticketLink }
                            : null
                        }
                      />
                    </Text>
                  )}
                </div>
              ))}
            </div>
          )}
          {errors.resourceIds && (
            <Text role="alert" style={{ color: tokens.colorPaletteRedForeground1 }}>
              {errors.resourceIds}
            </Text>
          )}
        </section>
      )}

      {key && (
        <section className={styles.section} aria-labelledby="form-title">
          <Title3 as="h2" id="form-title">
            3. Assignment
          </Title3>
          <Card>
            <form className={styles.form} onSubmit={submit} noValidate>
              <div className={styles.row}>
                {field(
                  'assignedTo',
                  'Assigned to (e-mail)',
                  <Input value={form.assignedTo} onChange={(_, d) => set('assignedTo', d.value)} />,
                  { required: true, hint: 'The owner: assigned to on the ticket and in Defender' },
                )}
                {field(
                  'caller',
                  'Caller (e-mail)',
                  <Input value={form.caller} onChange={(_, d) => set('caller', d.value)} />,
                  { hint: "The integration's caller when empty" },
                )}
              </div>
              <div className={styles.row}>
                {field(
                  'ticketType',
                  'Ticket type',
                  <Select value={form.ticketType} onChange={(_, d) => set('ticketType', d.value)}>
                    <option value="">The integration's</option>
                    {TICKET_TYPES.map(([v, l]) => (
                      <option key={v} value={v}>
                        {l}
                      </option>
                    ))}
                  </Select>,
                )}
                {field(
                  'remediationTimeframeDays',
                  'Remediation timeframe (days)',
                  <Input type="number" min={1} value={form.days} onChange={(_, d) => set('days', d.value)} />,
                  { hint: "The integration's timeframe for the severity when empty" },
                )}
              </div>
              <Checkbox
                label="Grace period (no secure-score penalty until the due date)"
                checked={form.gracePeriod}
                onChange={(_, d) => set('gracePeriod', !!d.checked)}
              />
              {field(
                'notifications',
                'E-mail notifications',
                <div>
                  <Checkbox
                    label="Remind the owner"
                    checked={form.notifyOwner}
                    onChange={(_, d) => set('notifyOwner', !!d.checked)}
                  />
                  <Checkbox
                    label="Remind the owner's manager"
                    checked={form.notifyManager}
                    onChange={(_, d) => set('notifyManager', !!d.checked)}
                  />
                </div>,
              )}
              {problems.other.map((m) => (
                <Text key={m} role="alert">
                  {m}
                </Text>
              ))}
              <div>
                <Button appearance="primary" type="submit" disabled={create.isPending || picked.size === 0}>
                  {create.isPending ? 'Creating…' : `Create assignment (${picked.size})`}
                </Button>
              </div>
            </form>
          </Card>
          {create.error && !(create.error instanceof ApiError && create.error.details.length) && (
            <ErrorBar error={create.error} />
          )}
          {create.data && (
            <Notice>
              Assignment created for {create.data.resources} resource(s): a {create.data.ticketType.replace('_', ' ')}{' '}
              for {create.data.owner}, due {dateTime(create.data.dueDate)}.
            </Notice>
          )}
        </section>
      )}
    </>
  );
}
