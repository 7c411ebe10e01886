import {
  Button,
  Checkbox,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  DialogTrigger,
  Field,
  Input,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError, call } from '../../api/client.ts';
import type { paths } from '../../api/schema';
import { useSession } from '../../auth/session.tsx';
import { DataTable } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, PageHeader, StatusBadge, TicketLink } from '../../components/common.tsx';
import { dateTime, words } from '../../lib/format.ts';
import { assignErrors, editBody, editFormOf, type EditForm } from './assign-logic.ts';

/**
 * An integration's manual assignments ("Create assignment"), each editable — owner, caller, due
 * date, grace period, e-mail reminders: the API rewrites its ticket and governance assignments —
 * or deletable (its governance assignments removed, its open ticket annotated; the resources go
 * back to the automatic path at the next pass).
 */

type Assignment =
  paths['/api/defender/integrations/{name}/manual-assignments']['get']['responses'][200]['content']['application/json']['assignments'][number];

const useStyles = makeStyles({
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
  actions: { display: 'flex', gap: tokens.spacingHorizontalS },
});

function EditAssignment({ a, onDone }: { a: Assignment; onDone(): Promise<void> }) {
  const styles = useStyles();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState<EditForm>(editFormOf(a));
  const set = <K extends keyof EditForm>(k: K, v: EditForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const body = editBody(a, form);
  const save = useMutation({
    mutationFn: () => call(api.PATCH('/api/defender/assignments/{id}', { params: { path: { id: a.id } }, body })),
    onSuccess: async () => {
      setOpen(false);
      await onDone();
    },
  });
  const problems = save.error instanceof ApiError ? assignErrors(save.error.details) : { fields: {}, other: [] };
  const errors: Record<string, string> = problems.fields;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const input = (label: string, k: 'assignedTo' | 'caller' | 'dueDate', type: 'email' | 'date') => (
    <Field label={label} validationMessage={errors[k]} validationState={errors[k] ? 'error' : 'none'}>
      <Input type={type} value={form[k]} onChange={(_e, d) => set(k, d.value)} />
    </Field>
  );
  return (
    <Dialog
      open={open}
      onOpenChange={(_e, d) => {
        setOpen(d.open);
        if (d.open) setForm(editFormOf(a));
      }}
    >
      <DialogTrigger disableButtonEnhancement>
        <Button size="small">Edit…</Button>
      </DialogTrigger>
      <DialogSurface>
        <form onSubmit={submit}>
          <DialogBody>
            <DialogTitle>Edit the assignment of {a.title}</DialogTitle>
            <DialogContent className={styles.form}>
              {input('Owner (assigned to)', 'assignedTo', 'email')}
              {input('Caller', 'caller', 'email')}
              {input('Remediation due date', 'dueDate', 'date')}
              <Checkbox
                label="Grace period"
                checked={form.gracePeriod}
                onChange={(_e, d) => set('gracePeriod', !!d.checked)}
              />
              <Field validationMessage={errors.notifications} validationState={errors.notifications ? 'error' : 'none'}>
                <Checkbox
                  label="E-mail reminders to the owner"
                  checked={form.notifyOwner}
                  onChange={(_e, d) => set('notifyOwner', !!d.checked)}
                />
                <Checkbox
                  label="E-mail reminders to the owner's manager"
                  checked={form.notifyManager}
                  onChange={(_e, d) => set('notifyManager', !!d.checked)}
                />
              </Field>
              {problems.other.map((m) => (
                <ErrorBar key={m} error={new Error(m)} />
              ))}
            </DialogContent>
            <DialogActions>
              <DialogTrigger disableButtonEnhancement>
                <Button>Cancel</Button>
              </DialogTrigger>
              <Button appearance="primary" type="submit" disabled={!Object.keys(body).length || save.isPending}>
                {save.isPending ? 'Saving…' : 'Save'}
              </Button>
            </DialogActions>
          </DialogBody>
        </form>
      </DialogSurface>
    </Dialog>
  );
}

function DeleteAssignment({ a, onDone }: { a: Assignment; onDone(): Promise<void> }) {
  const [open, setOpen] = useState(false);
  const remove = useMutation({
    mutationFn: () => call(api.DELETE('/api/defender/assignments/{id}', { params: { path: { id: a.id } } })),
    onSuccess: async () => {
      setOpen(false);
      await onDone();
    },
  });
  return (
    <Dialog open={open} onOpenChange={(_e, d) => setOpen(d.open)}>
      <DialogTrigger disableButtonEnhancement>
        <Button size="small">Delete…</Button>
      </DialogTrigger>
      <DialogSurface aria-describedby={`delete-${a.id}`}>
        <DialogBody>
          <DialogTitle>Delete the assignment of {a.title}?</DialogTitle>
          <DialogContent id={`delete-${a.id}`}>
            Its {a.resources} governance assignment(s) are removed from Defender
            {a.ticket?.status === 'open' ? `, and ${a.ticket.key} gets a work note (it stays open)` : ''}. The resources
            go back to the integration's automatic tickets at its next pass.
            <ErrorBar error={remove.error} />
          </DialogContent>
          <DialogActions>
            <DialogTrigger disableButtonEnhancement>
              <Button>Keep it</Button>
            </DialogTrigger>
            <Button appearance="primary" onClick={() => remove.mutate()} disabled={remove.isPending}>
              {remove.isPending ? 'Deleting…' : 'Delete the assignment'}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}

export default function ManualAssignmentsPage() {
  const styles = useStyles();
  const { name = '' } = useParams();
  const { can } = useSession();
  const queries = useQueryClient();
  const key = ['defender-manual-assignments', name];
  const list = useQuery({
    queryKey: key,
    queryFn: () =>
      call(api.GET('/api/defender/integrations/{name}/manual-assignments', { params: { path: { name } } })),
  });
  const refresh = () => queries.invalidateQueries({ queryKey: key });
  const editable = can('PATCH', '/api/defender/assignments/{id}');
  return (
    <>
      <PageHeader title={`Manual assignments of ${name}`}>
        {can('POST', '/api/defender/assignments') && (
          <Link to={`/defender/integrations/${encodeURIComponent(name)}/assign`}>Create assignment</Link>
        )}
        <Link to={`/defender/integrations/${encodeURIComponent(name)}`}>The integration</Link>
      </PageHeader>
      {list.isPending ? (
        <Loading label="Loading the manual assignments" />
      ) : list.error ? (
        <ErrorBar error={list.error} />
      ) : !list.data.assignments.length ? (
        <Empty>No manual assignment yet.</Empty>
      ) : (
        <DataTable
          label="Manual assignments"
          rows={list.data.assignments}
          rowKey={(a) => a.id}
          columns={[
            { label: 'Recommendation', render: (a) => a.title },
            { label: 'Resources', render: (a) => String(a.resources) },
            { label: 'Owner', render: (a) => a.owner },
            { label: 'Caller', render: (a) => a.caller ?? '—' },
            { label: 'Due', render: (a) => `${dateTime(a.dueDate)}${a.overdue ? ' (overdue)' : ''}` },
            { label: 'Grace period', render: (a) => (a.gracePeriod ? 'yes' : 'no') },
            { label: 'Ticket', render: (a) => (a.ticket ? <TicketLink ticket={a.ticket} /> : words(a.ticketType)) },
            { label: 'Status', render: (a) => <StatusBadge status={a.status} /> },
            { label: 'Made by', render: (a) => a.createdBy },
            ...(editable
              ? [
                  {
                    label: 'Actions',
                    render: (a: Assignment) => (
                      <div className={styles.actions}>
                        <EditAssignment a={a} onDone={refresh} />
                        <DeleteAssignment a={a} onDone={refresh} />
                      </div>
                    ),
                  },
                ]
              : []),
          ]}
        />
      )}
    </>
  );
}
