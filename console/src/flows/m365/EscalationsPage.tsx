import { Button, Card, Field, Text, Textarea } from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useSession } from '../../auth/session.tsx';
import { DataTable, type Column } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, Notice, PageHeader, StatusBadge, TicketLink } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { M365 } from './data.ts';
import { GuidedCase } from './EscalatePage.tsx';
import {
  closeTicket,
  KIND_LABEL,
  loadCommunications,
  loadEscalation,
  loadEscalations,
  replyTo,
  type EscalationRow,
} from './escalation-data.ts';

/**
 * Escalations to Microsoft support (people with `insights` see them; admins act): each labelled as
 * what it is — an Azure support ticket synced with Microsoft, or a guided hand-off tracked by hand,
 * since Microsoft 365 has no public case API — and one in detail: Microsoft's messages and a reply
 * form for Azure tickets, the case number and status for guided ones.
 */

const POLL_MS = 15_000;
const SENDING_POLL_MS = 1_000;
const KEY = [...M365, 'escalations'] as const;

const caseOf = (e: EscalationRow) => e.ticketNumber ?? e.caseNumber ?? '—';

function AzureTicket({ escalation }: { escalation: EscalationRow }) {
  const { can } = useSession();
  const queries = useQueryClient();
  const [message, setMessage] = useState('');
  /** The reply being sent: read the messages often until Microsoft has it. */
  const [sending, setSending] = useState<string>();
  const comms = useQuery({
    queryKey: [...KEY, escalation.id, 'communications'],
    queryFn: () => loadCommunications(escalation.id),
    refetchInterval: (q) =>
      sending && !q.state.data?.items.some((c) => c.name === sending) ? SENDING_POLL_MS : POLL_MS,
  });
  const refresh = () => queries.invalidateQueries({ queryKey: KEY });
  const reply = useMutation({
    mutationFn: () => replyTo(escalation.id, message.trim()),
    onSuccess: (sent) => {
      setMessage('');
      setSending((sent as { communication: string }).communication);
      void refresh();
    },
  });
  const close = useMutation({ mutationFn: () => closeTicket(escalation.id), onSuccess: refresh });
  const open = !!escalation.ticketNumber && !/^(closed|failed)$/i.test(escalation.status);
  const items = comms.data?.items ?? [];
  return (
    <>
      <ErrorBar error={comms.error} />
      {comms.isPending ? (
        <Loading label="Loading the ticket's messages" />
      ) : items.length === 0 ? (
        <Empty>No messages on this ticket yet.</Empty>
      ) : (
        <ol aria-label="Messages on the ticket">
          {items.map((c) => (
            <li key={c.name}>
              <Text block weight="semibold">
                {c.direction === 'inbound' ? 'From Microsoft' : 'From us'} ({c.sender || '—'}),{' '}
                {dateTime(c.createdDate)}: {c.subject}
              </Text>
              <Text block style={{ whiteSpace: 'pre-wrap' }}>
                {c.body}
              </Text>
            </li>
          ))}
        </ol>
      )}
      {open && can('POST', '/api/m365/escalations/{id}/reply') && (
        <form
          aria-label="Reply to Microsoft"
          onSubmit={(e) => {
            e.preventDefault();
            if (message.trim()) reply.mutate();
          }}
        >
          <Field label="Reply to Microsoft support" hint="Sent to the ticket as a message, and noted on the incident">
            <Textarea value={message} onChange={(_e, d) => setMessage(d.value)} rows={4} />
          </Field>
          <Button type="submit" appearance="primary" disabled={!message.trim() || reply.isPending}>
            Send reply
          </Button>
        </form>
      )}
      {reply.isSuccess && <Notice intent="success">Reply queued: it appears here once Microsoft has it.</Notice>}
      {open && can('POST', '/api/m365/escalations/{id}/close') && (
        <Button onClick={() => close.mutate()} disabled={close.isPending || close.isSuccess}>
          Close the ticket
        </Button>
      )}
      {close.isSuccess && <Notice intent="success">Closing the ticket at Microsoft.</Notice>}
      <ErrorBar error={reply.error ?? close.error} />
    </>
  );
}

function Detail({ id, onClose }: { id: string; onClose(): void }) {
  const { can } = useSession();
  const queries = useQueryClient();
  const one = useQuery({ queryKey: [...KEY, id], queryFn: () => loadEscalation(id), refetchInterval: POLL_MS });
  const e = one.data;
  return (
    <Card aria-label="Escalation details">
      <ErrorBar error={one.error} />
      {!e ? (
        <Loading label="Loading the escalation" />
      ) : (
        <>
          <Text as="h2" size={500} weight="semibold">
            {KIND_LABEL[e.kind]}: {e.title}
          </Text>
          <Text block>{e.label}</Text>
          <Text block>
            Status <StatusBadge status={e.status} /> · case {caseOf(e)} · incident <TicketLink ticket={e.incident} /> ·{' '}
            {e.service}
            {e.problemClassification ? ` / ${e.problemClassification}` : ''} · severity {e.severity}
          </Text>
          <Text block size={200}>
            Opened {dateTime(e.createdAt)}, last update {dateTime(e.activityAt)}
          </Text>
          {e.error && <Notice intent="warning">{e.error}</Notice>}
          {e.kind === 'azure-support' ? (
            <AzureTicket escalation={e} />
          ) : can('POST', '/api/m365/escalations/{id}/case') ? (
            <GuidedCase
              key={`${e.id}:${e.status}:${e.caseNumber ?? ''}`}
              escalation={e}
              onChange={() => void queries.invalidateQueries({ queryKey: KEY })}
            />
          ) : (
            <Field label="Case summary">
              <Textarea readOnly value={e.summary ?? ''} rows={10} />
            </Field>
          )}
          <Button appearance="subtle" onClick={onClose}>
            Back to the list
          </Button>
        </>
      )}
    </Card>
  );
}

export default function EscalationsPage() {
  const [selected, setSelected] = useState<string>();
  const list = useQuery({ queryKey: KEY, queryFn: loadEscalations, refetchInterval: POLL_MS });
  const rows = list.data?.items ?? [];
  const columns: Column<EscalationRow>[] = [
    {
      label: 'Escalation',
      render: (e) => (
        <>
          <Text block weight="semibold">
            {KIND_LABEL[e.kind]}
          </Text>
          <Text size={200}>{e.title}</Text>
        </>
      ),
    },
    { label: 'Status', render: (e) => <StatusBadge status={e.status} /> },
    { label: 'Case number', render: caseOf },
    { label: 'Incident', render: (e) => <TicketLink ticket={e.incident} /> },
    { label: 'Last update', render: (e) => dateTime(e.activityAt) },
    {
      label: 'Details',
      render: (e) => (
        <Button size="small" onClick={() => setSelected(e.id)} aria-label={`Details of ${caseOf(e)} (${e.title})`}>
          Details
        </Button>
      ),
    },
  ];
  return (
    <>
      <PageHeader title="Microsoft support escalations" />
      {list.data && (
        <Text block>
          {list.data.mode === 'insights-only'
            ? 'Insights only: escalation is off for this integration.'
            : `Escalation mode ${list.data.mode}; Azure tickets last synced ${list.data.lastSyncAt ? dateTime(list.data.lastSyncAt) : 'not yet'}.`}
        </Text>
      )}
      <ErrorBar error={list.error} />
      {selected && <Detail id={selected} onClose={() => setSelected(undefined)} />}
      {list.isPending ? (
        <Loading label="Loading escalations" />
      ) : rows.length === 0 ? (
        <Empty>No escalation yet.</Empty>
      ) : (
        <DataTable label="Escalations" columns={columns} rows={rows} rowKey={(e) => e.id} />
      )}
    </>
  );
}
