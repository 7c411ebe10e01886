import { Button, Card, Field, Input, Select, Text, Textarea } from '@fluentui/react-components';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client.ts';
import { ErrorBar, Notice, PageHeader, TicketLink } from '../../components/common.tsx';
import {
  escalate,
  GUIDED_STATUSES,
  recordCase,
  setCaseStatus,
  type EscalationRow,
  type GuidedStatus,
} from './escalation-data.ts';

/**
 * Escalate an incident to Microsoft support (admins): an Azure support ticket for Azure and Entra
 * services, or a guided hand-off for Microsoft 365 services — a summary to paste in the admin center,
 * whose case number and status are then recorded here by hand.
 */

const SEVERITIES = ['minimal', 'moderate', 'critical', 'highestcriticalimpact'];

const fieldError = (error: unknown, field: string) =>
  error instanceof ApiError ? error.details.find((d) => d.path === `body.${field}`)?.message : undefined;

export function GuidedCase({ escalation, onChange }: { escalation: EscalationRow; onChange(e: EscalationRow): void }) {
  const [caseNumber, setCaseNumber] = useState(escalation.caseNumber ?? '');
  const save = useMutation({ mutationFn: () => recordCase(escalation.id, caseNumber.trim()), onSuccess: onChange });
  const status = useMutation({ mutationFn: (s: GuidedStatus) => setCaseStatus(escalation.id, s), onSuccess: onChange });
  return (
    <>
      <Field label="Case summary (copy it into the admin center's support form)">
        <Textarea readOnly value={escalation.summary ?? ''} rows={14} />
      </Field>
      <Text block>
        Open{' '}
        <a href="https://admin.microsoft.com/#/support" target="_blank" rel="noreferrer">
          the Microsoft 365 admin center's support page
        </a>
        , paste the summary, then record the case number below.
      </Text>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Field label="Case number" validationMessage={fieldError(save.error, 'caseNumber')}>
          <Input value={caseNumber} onChange={(_e, d) => setCaseNumber(d.value)} />
        </Field>
        <Button type="submit" disabled={!caseNumber.trim() || save.isPending}>
          Record case number
        </Button>
      </form>
      <Field label="Case status (set by hand)">
        <Select
          value={escalation.status}
          onChange={(_e, d) => status.mutate(d.value as GuidedStatus)}
          disabled={status.isPending}
        >
          {GUIDED_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </Select>
      </Field>
      <ErrorBar error={save.error ?? status.error} />
    </>
  );
}

export default function EscalatePage() {
  const [form, setForm] = useState({
    number: '',
    severity: 'moderate',
    kind: '',
    service: '',
    problemClassification: '',
    description: '',
  });
  const [made, setMade] = useState<EscalationRow>();
  const set = (k: keyof typeof form, v: string) => setForm((f) => ({ ...f, [k]: v }));
  const send = useMutation({
    mutationFn: () =>
      escalate({
        incident: { number: form.number.trim() },
        severity: form.severity,
        ...(form.kind ? { kind: form.kind } : {}),
        ...(form.service.trim() ? { service: form.service.trim() } : {}),
        ...(form.problemClassification.trim() ? { problemClassification: form.problemClassification.trim() } : {}),
        ...(form.description.trim() ? { description: form.description.trim() } : {}),
      }),
    onSuccess: setMade,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    send.mutate();
  };
  const err = (f: string) => fieldError(send.error, f);
  return (
    <>
      <PageHeader title="Escalate to Microsoft support" />
      <Card>
        <form onSubmit={submit} aria-label="Escalation">
          <Field label="Incident number" required validationMessage={err('incident.number') ?? err('incident')}>
            <Input value={form.number} onChange={(_e, d) => set('number', d.value)} placeholder="INC0010001" />
          </Field>
          <Field
            label="Service"
            hint="e.g. Exchange Online (guided) or Azure Active Directory Sign-In (Azure ticket)"
            validationMessage={err('service')}
          >
            <Input value={form.service} onChange={(_e, d) => set('service', d.value)} />
          </Field>
          <Field label="Kind" validationMessage={err('kind')}>
            <Select value={form.kind} onChange={(_e, d) => set('kind', d.value)}>
              <option value="">Decided by the service</option>
              <option value="azure-support">Azure support ticket</option>
              <option value="guided">Guided hand-off (Microsoft 365)</option>
            </Select>
          </Field>
          <Field label="Problem classification (Azure tickets)" validationMessage={err('problemClassification')}>
            <Input value={form.problemClassification} onChange={(_e, d) => set('problemClassification', d.value)} />
          </Field>
          <Field label="Severity" validationMessage={err('severity')}>
            <Select value={form.severity} onChange={(_e, d) => set('severity', d.value)}>
              {SEVERITIES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </Select>
          </Field>
          <Field label="Symptoms" validationMessage={err('description')}>
            <Textarea value={form.description} onChange={(_e, d) => set('description', d.value)} />
          </Field>
          <Button type="submit" appearance="primary" disabled={!form.number.trim() || send.isPending}>
            Escalate
          </Button>
        </form>
        <ErrorBar error={send.error} />
      </Card>
      {made && (
        <Card aria-label="Escalation made">
          <Notice intent="success">
            {made.label}: {made.status}
            {made.ticketName ? ` (ticket ${made.ticketNumber ?? made.ticketName})` : ''}
          </Notice>
          <Text block>
            Incident <TicketLink ticket={made.incident} />
          </Text>
          {made.kind === 'guided' && <GuidedCase escalation={made} onChange={setMade} />}
        </Card>
      )}
    </>
  );
}
