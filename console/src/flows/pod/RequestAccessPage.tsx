import {
  Button,
  Card,
  Field,
  Input,
  makeStyles,
  Radio,
  RadioGroup,
  Select,
  Text,
  Textarea,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactElement } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError } from '../../api/client.ts';
import { Empty, ErrorBar, Loading, Notice, PageHeader } from '../../components/common.tsx';
import { loadCatalog, POD, submitRequest } from './data.ts';
import {
  change,
  durationChoices,
  EMPTY_REQUEST,
  errorsByField,
  parseIsoDuration,
  requestable,
  requestBody,
  settle,
  spokenDuration,
  type RequestForm,
} from './logic.ts';

/**
 * Ask for a permission for a time. The choices come from the catalog: a system, one of its
 * permissions a policy covers, a scope among those allowed, a duration up to the policy's maximum
 * (its default preselected); justification and ticket number are marked required when the policy
 * says so. The API checks it all again and names each refused field, shown under the field.
 */

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL, maxWidth: '720px' },
  card: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalM,
    // A long scope shortens with an ellipsis instead of widening the page on a phone.
    '& > *': { minWidth: 0 },
    '& .fui-Field': { gridTemplateColumns: 'minmax(0, 1fr)' },
    '& select': { textOverflow: 'ellipsis' },
  },
  row: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalL, '& > *': { flexGrow: 1 } },
});

const IDENTITY = {
  user: { label: 'Your Entra object id', hint: 'a GUID: Entra admin centre → Users → you → Object ID' },
  servicePrincipal: {
    label: 'Service principal object id',
    hint: 'a GUID: Entra admin centre → Enterprise applications → the app → Object ID',
  },
} as const;

const newKey = () => crypto.randomUUID();

export default function RequestAccessPage() {
  const styles = useStyles();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const catalog = useQuery({ queryKey: [...POD, 'catalog'], queryFn: loadCatalog, staleTime: 60_000 });
  const [draft, setDraft] = useState<RequestForm>(EMPTY_REQUEST);
  // One key per filled-in form: a double submit (or a retry after a lost answer) is the same request.
  const [idempotencyKey, setIdempotencyKey] = useState(newKey);
  const form = catalog.data ? settle(catalog.data, draft) : draft;
  const set = <K extends keyof RequestForm>(k: K, v: RequestForm[K]) => {
    setDraft(catalog.data ? change(catalog.data, form, k, v) : { ...form, [k]: v });
    setIdempotencyKey(newKey());
  };
  const submit = useMutation({
    mutationFn: (f: RequestForm) => submitRequest(requestBody(f), idempotencyKey),
    onSuccess: async (r) => {
      await queries.invalidateQueries({ queryKey: POD });
      navigate(`/pod/requests/${r.id}`, { state: { submitted: true } });
    },
  });
  const problems = submit.error instanceof ApiError ? errorsByField(submit.error.details) : { fields: {}, other: [] };
  const errors: Record<string, string> = problems.fields;

  if (catalog.isPending) return <Loading label="Loading what can be requested" />;
  if (catalog.error) return <ErrorBar error={catalog.error} />;
  const permissions = requestable(catalog.data);
  if (!permissions.length)
    return (
      <>
        <PageHeader title="Request access" />
        <Empty>No permission can be requested yet: the pod integration names none a policy covers.</Empty>
      </>
    );
  const systems = catalog.data.systems.filter((s) => permissions.some((p) => p.system === s.name));
  const permission = permissions.find((p) => p.system === form.system && p.name === form.permission);
  const policy = permission?.policy ?? undefined;
  const choices = policy
    ? durationChoices(parseIsoDuration(policy.maxDuration)!, parseIsoDuration(policy.defaultDuration))
    : [];

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    submit.mutate(form);
  }
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
  const identity = IDENTITY[form.identityType];
  const otherErrors = problems.other;
  const withoutFields = submit.error && !(submit.error instanceof ApiError && submit.error.details.length);

  return (
    <>
      <PageHeader title="Request access">
        <Link to="/pod/mine">My requests</Link>
      </PageHeader>
      {withoutFields && <ErrorBar error={submit.error} />}
      {otherErrors.length > 0 && <ErrorBar error={new Error(otherErrors.join('; '))} />}
      <form className={styles.form} onSubmit={onSubmit} noValidate>
        <Card className={styles.card}>
          <Title3 as="h2">What</Title3>
          <div className={styles.row}>
            {field(
              'system',
              'System',
              <Select value={form.system} onChange={(_e, d) => set('system', d.value)}>
                {systems.map((s) => (
                  <option key={s.name} value={s.name}>
                    {s.name} ({s.provider})
                  </option>
                ))}
              </Select>,
            )}
            {field(
              'permission',
              'Permission',
              <Select value={form.permission} onChange={(_e, d) => set('permission', d.value)}>
                {permissions
                  .filter((p) => p.system === form.system)
                  .map((p) => (
                    <option key={p.name} value={p.name}>
                      {`${p.name}${p.readOnly ? ' (read-only)' : ''}`}
                    </option>
                  ))}
              </Select>,
              { hint: permission?.description ?? undefined },
            )}
          </div>
          {field(
            'scope',
            'Scope',
            <Select value={form.scope} onChange={(_e, d) => set('scope', d.value)}>
              {(permission?.scopes ?? []).map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </Select>,
            { hint: 'where the permission applies' },
          )}
          {field(
            'duration',
            'For how long',
            <Select value={form.duration} onChange={(_e, d) => set('duration', d.value)}>
              {choices.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </Select>,
            { hint: policy ? `policy “${policy.name}”: at most ${spokenDuration(policy.maxDuration)}` : undefined },
          )}
          {policy?.breakGlass && (
            <Notice intent="warning">
              Break-glass: granted at once without approval; everyone is told, and it is reviewed afterwards.
            </Notice>
          )}
        </Card>

        <Card className={styles.card}>
          <Title3 as="h2">For whom</Title3>
          <RadioGroup
            aria-label="For whom"
            value={form.identityType}
            onChange={(_e, d) => set('identityType', d.value as RequestForm['identityType'])}
          >
            <Radio value="user" label="Myself" />
            <Radio value="servicePrincipal" label="A workload identity (service principal)" />
          </RadioGroup>
          {field(
            'identity.id',
            identity.label,
            <Input value={form.identityId} onChange={(_e, d) => set('identityId', d.value)} />,
            { hint: identity.hint, required: true },
          )}
        </Card>

        <Card className={styles.card}>
          <Title3 as="h2">Why</Title3>
          {field(
            'justification',
            'Justification',
            <Textarea
              value={form.justification}
              onChange={(_e, d) => set('justification', d.value)}
              maxLength={2000}
            />,
            { required: policy?.requireJustification, hint: 'what you will do with it; approvers read this' },
          )}
          {field(
            'ticketNumber',
            'Ticket number',
            <Input value={form.ticketNumber} onChange={(_e, d) => set('ticketNumber', d.value)} maxLength={100} />,
            { required: policy?.requireTicket, hint: 'the incident or change this is for, e.g. INC0010002' },
          )}
        </Card>
        <div>
          <Button type="submit" appearance="primary" disabled={submit.isPending || !permission}>
            {submit.isPending ? 'Sending…' : 'Send request'}
          </Button>
        </div>
        {policy && (
          <Text size={200}>
            Approvers of policy “{policy.name}” are told at once; the grant starts when the request is approved.
          </Text>
        )}
      </form>
    </>
  );
}
