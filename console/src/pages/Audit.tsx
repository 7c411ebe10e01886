import { Button, Field, Input, Text } from '@fluentui/react-components';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { DataTable } from '../components/DataTable.tsx';
import { api, call } from '../api/client.ts';
import { useSession } from '../auth/session.tsx';
import { Empty, ErrorBar, Filters, Loading, Notice, PageHeader } from '../components/common.tsx';
import { dateTime } from '../lib/format.ts';

/** Search the audit log (auditors), verify its chain in one click, export what the search finds. */

const LIMIT = 50;
interface Search {
  subject?: string;
  actor?: string;
  action?: string;
  since?: string;
  until?: string;
}

/** `<input type="datetime-local">` (local time) → ISO, or undefined. */
const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

function VerifyButton() {
  const verify = useMutation({ mutationFn: () => call(api.GET('/api/audit/verify')) });
  const r = verify.data;
  return (
    <>
      <Button appearance="primary" onClick={() => verify.mutate()} disabled={verify.isPending}>
        Verify the chain
      </Button>
      {r && (
        <Notice intent={r.ok ? 'success' : 'warning'}>
          {r.ok
            ? `The chain is intact: ${r.rows} rows, ${r.checkpoints.read} checkpoints verified.`
            : `The chain is broken${r.seq !== undefined ? ` at row ${r.seq}` : ''}: ${r.problem ?? 'see ticketloop audit verify'}`}
        </Notice>
      )}
      <ErrorBar error={verify.error} />
    </>
  );
}

export default function Audit() {
  const { can } = useSession();
  const mayRead = can('GET', '/api/audit');
  const [search, setSearch] = useState<Search>({});
  const [cursors, setCursors] = useState<number[]>([0]);
  const afterSeq = cursors[cursors.length - 1];
  const rows = useQuery({
    queryKey: ['audit', search, afterSeq],
    queryFn: () => call(api.GET('/api/audit', { params: { query: { ...search, afterSeq, limit: LIMIT } } })),
    enabled: mayRead,
  });
  const exporting = useMutation({
    mutationFn: async () => {
      const lines: string[] = [];
      for (let after = 0; ;) {
        const page = await call(
          api.GET('/api/audit', { params: { query: { ...search, afterSeq: after, limit: 1000 } } }),
        );
        lines.push(...page.entries.map((e) => JSON.stringify(e)));
        if (page.nextAfterSeq === null) break;
        after = page.nextAfterSeq;
      }
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'application/x-ndjson' }));
      link.download = `ticketloop-audit-${new Date().toISOString().slice(0, 19)}.jsonl`;
      link.click();
      URL.revokeObjectURL(link.href);
      return lines.length;
    },
  });

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim() || undefined;
    setSearch({
      subject: text('subject'),
      actor: text('actor'),
      action: text('action'),
      since: isoOf(String(f.get('since') ?? '')),
      until: isoOf(String(f.get('until') ?? '')),
    });
    setCursors([0]);
  }

  const entries = rows.data?.entries ?? [];
  return (
    <>
      <PageHeader title="Audit log">
        <VerifyButton />
        {mayRead && (
          <Button onClick={() => exporting.mutate()} disabled={exporting.isPending}>
            Export (JSON Lines)
          </Button>
        )}
      </PageHeader>
      {exporting.data !== undefined && <Notice>{`${exporting.data} rows exported.`}</Notice>}
      <ErrorBar error={exporting.error ?? rows.error} />
      {!mayRead ? (
        <Empty>Reading the audit rows needs the auditor or admin role; verifying the chain does not.</Empty>
      ) : (
        <>
          <form onSubmit={submit}>
            <Filters>
              <Field label="Subject">
                <Input name="subject" placeholder="entitlement/…" />
              </Field>
              <Field label="Actor">
                <Input name="actor" placeholder="user:…" />
              </Field>
              <Field label="Action">
                <Input name="action" placeholder="e.g. signin" />
              </Field>
              <Field label="From">
                <Input name="since" type="datetime-local" />
              </Field>
              <Field label="Until">
                <Input name="until" type="datetime-local" />
              </Field>
              <Button type="submit">Search</Button>
            </Filters>
          </form>
          {rows.isPending ? (
            <Loading label="Loading audit rows" />
          ) : entries.length === 0 ? (
            <Empty>No audit row matches.</Empty>
          ) : (
            <DataTable
              label="Audit rows"
              rows={entries}
              rowKey={(e) => String(e.seq)}
              columns={[
                { label: '#', render: (e) => e.seq },
                { label: 'When', render: (e) => dateTime(e.at) },
                { label: 'Kind', render: (e) => e.kind },
                { label: 'Actor', render: (e) => e.actor },
                { label: 'Subject', render: (e) => e.subject },
                {
                  label: 'What',
                  render: (e) => {
                    const detail = (e.detail ?? {}) as { action?: string; event?: string };
                    return detail.action ?? detail.event ?? '—';
                  },
                },
              ]}
            />
          )}
          <nav aria-label="Pages" style={{ display: 'flex', gap: 8, marginTop: 12, alignItems: 'center' }}>
            <Button disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous
            </Button>
            <Text>Page {cursors.length}</Text>
            <Button
              disabled={rows.data?.nextAfterSeq == null}
              onClick={() => setCursors([...cursors, rows.data!.nextAfterSeq!])}
            >
              Next
            </Button>
          </nav>
        </>
      )}
    </>
  );
}
