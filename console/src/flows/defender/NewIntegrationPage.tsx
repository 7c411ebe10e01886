import {
  Button,
  Card,
  Checkbox,
  Field,
  Input,
  makeStyles,
  Radio,
  RadioGroup,
  Select,
  Textarea,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactElement } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, ApiError, call } from '../../api/client.ts';
import { ErrorBar, PageHeader } from '../../components/common.tsx';
import {
  EMPTY_FORM,
  errorsByField,
  integrationBody,
  parseExtraFields,
  SCOPE_KINDS,
  SEVERITIES,
  type IntegrationForm,
  type ScopeKind,
} from './logic.ts';

/**
 * Create a Defender integration: its scope (management group, subscription or security connector),
 * the ITSM connection, and the default or a customized field mapping. The API validates with the
 * configuration file's schema and names each refused field; the form shows it next to the field.
 */

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL, maxWidth: '720px' },
  card: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  row: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalL, '& > *': { flexGrow: 1 } },
});

export default function NewIntegrationPage() {
  const styles = useStyles();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const flows = useQuery({ queryKey: ['flows'], queryFn: () => call(api.GET('/api/flows')) });
  const itsm = flows.data?.itsm ?? [];
  const [form, setForm] = useState<IntegrationForm>(EMPTY_FORM);
  const [local, setLocal] = useState<Record<string, string>>({});
  const set = <K extends keyof IntegrationForm>(k: K, v: IntegrationForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      call(api.POST('/api/defender/integrations', { body: body as Record<string, never> })),
    onSuccess: async (i) => {
      await queries.invalidateQueries({ queryKey: ['defender-integrations'] });
      navigate(`/defender/integrations/${encodeURIComponent(i.name)}`, { state: { created: true } });
    },
  });
  const problems = create.error instanceof ApiError ? errorsByField(create.error.details) : { fields: {}, other: [] };
  const errors = { ...problems.fields, ...local };
  const itsmName = form.itsm || itsm[0]?.name || '';

  function submit(e: FormEvent) {
    e.preventDefault();
    const extra = form.mode === 'customized' ? parseExtraFields(form.extraFields).problem : undefined;
    setLocal(extra ? { 'mapping.fields': extra } : {});
    if (extra) return;
    create.mutate(integrationBody({ ...form, itsm: itsmName }));
  }

  /** A field with the API's message for it, if it refused it. */
  const field = (path: string, label: string, control: ReactElement, o: { hint?: string; required?: boolean } = {}) => (
    <Field
      label={label}
      hint={o.hint}
      required={o.required}
      validationState={errors[path] ? 'error' : 'none'}
      validationMessage={errors[path]}
    >
      {control}
    </Field>
  );
  const text = (path: string, label: string, key: keyof IntegrationForm, hint?: string, required?: boolean) =>
    field(path, label, <Input value={String(form[key])} onChange={(_e, d) => set(key, d.value as never)} />, {
      hint,
      required,
    });
  const level = (k: 'impact' | 'urgency', label: string) =>
    field(
      `mapping.${k}`,
      label,
      <Select value={form[k]} onChange={(_e, d) => set(k, d.value as never)}>
        <option value="">the ITSM’s default</option>
        <option value="1">1 – high</option>
        <option value="2">2 – medium</option>
        <option value="3">3 – low</option>
      </Select>,
    );
  const kind = SCOPE_KINDS[form.scopeKind];
  const otherErrors = create.error instanceof ApiError && create.error.details.length ? problems.other : [];

  return (
    <>
      <PageHeader title="New Defender integration">
        <Link to="/defender">All integrations</Link>
      </PageHeader>
      {create.error && !(create.error instanceof ApiError && create.error.details.length) && (
        <ErrorBar error={create.error} />
      )}
      {otherErrors.length > 0 && <ErrorBar error={new Error(otherErrors.join('; '))} />}
      <form className={styles.form} onSubmit={submit} noValidate>
        <Card className={styles.card}>
          <Title3 as="h2">Where from, where to</Title3>
          {text(
            'name',
            'Name',
            'name',
            'letters, digits, _ . - (at most 32); part of every ticket’s correlation',
            true,
          )}
          <RadioGroup
            aria-label="Scope kind"
            value={form.scopeKind}
            onChange={(_e, d) => set('scopeKind', d.value as ScopeKind)}
          >
            {(Object.keys(SCOPE_KINDS) as ScopeKind[]).map((k) => (
              <Radio key={k} value={k} label={SCOPE_KINDS[k].label} />
            ))}
          </RadioGroup>
          {text('scope', kind.input, 'scopeId', kind.hint, true)}
          {field(
            'itsm',
            'ITSM connection',
            <Select value={itsmName} onChange={(_e, d) => set('itsm', d.value)}>
              {itsm.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name} ({c.type})
                </option>
              ))}
            </Select>,
          )}
          <div className={styles.row}>
            {field(
              'ticketType',
              'Ticket type',
              <Select value={form.ticketType} onChange={(_e, d) => set('ticketType', d.value as never)}>
                <option value="incident">incident</option>
                <option value="change_request">change request</option>
                <option value="problem">problem</option>
              </Select>,
            )}
            {field(
              'grouping',
              'One ticket per',
              <Select value={form.grouping} onChange={(_e, d) => set('grouping', d.value as never)}>
                <option value="recommendation">recommendation (all its resources)</option>
                <option value="resource">resource</option>
              </Select>,
            )}
            {text('dailyCap', 'New tickets a day', 'dailyCap', '0 = no limit')}
          </div>
          {field(
            'filters.severities',
            'Severities',
            <div role="group" aria-label="Severities" style={{ display: 'flex', flexWrap: 'wrap' }}>
              {SEVERITIES.map((s) => (
                <Checkbox
                  key={s}
                  label={s}
                  checked={form.severities.includes(s)}
                  onChange={(_e, d) =>
                    set('severities', d.checked ? [...form.severities, s] : form.severities.filter((x) => x !== s))
                  }
                />
              ))}
            </div>,
            { hint: 'none ticked = every severity' },
          )}
        </Card>

        <Card className={styles.card}>
          <Title3 as="h2">Field mapping</Title3>
          <RadioGroup aria-label="Field mapping" value={form.mode} onChange={(_e, d) => set('mode', d.value as never)}>
            <Radio value="default" label="Default: title, description, owner and caller" />
            <Radio value="customized" label="Customized: choose each field, add your own" />
          </RadioGroup>
          <div className={styles.row}>
            {text('mapping.assignedTo', 'Owner (assigned to)', 'assignedTo', 'an e-mail address in the ITSM')}
            {text('mapping.caller', 'Caller', 'caller', 'an e-mail address in the ITSM')}
          </div>
          {form.mode === 'customized' && (
            <>
              {text(
                'mapping.shortDescription',
                'Short description',
                'shortDescription',
                'templates: {title} {severity} {count} {resourceId} {dueDate} {integration}',
              )}
              {field(
                'mapping.description',
                'Description',
                <Textarea
                  value={form.description}
                  onChange={(_e, d) => set('description', d.value)}
                  placeholder="empty = the default description"
                />,
              )}
              <div className={styles.row}>
                {text('mapping.assignmentGroup', 'Assignment group', 'assignmentGroup')}
                {text('mapping.category', 'Category', 'category')}
              </div>
              <div className={styles.row}>
                {level('impact', 'Impact')}
                {level('urgency', 'Urgency')}
              </div>
              {field(
                'mapping.fields',
                'Other fields',
                <Textarea
                  value={form.extraFields}
                  onChange={(_e, d) => set('extraFields', d.value)}
                  placeholder="u_source = defender:{assessmentKey}"
                />,
                { hint: 'one field = template a line' },
              )}
            </>
          )}
        </Card>
        <div>
          <Button type="submit" appearance="primary" disabled={create.isPending || !itsmName}>
            {create.isPending ? 'Creating…' : 'Create integration'}
          </Button>
        </div>
      </form>
    </>
  );
}
