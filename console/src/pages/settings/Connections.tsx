import {
  Button,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Title3,
} from '@fluentui/react-components';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api, call } from '../../api/client.ts';
import { useSession } from '../../auth/session.tsx';
import { Empty, ErrorBar, Loading, PageHeader, Scroll } from '../../components/common.tsx';

/** The ITSM and Microsoft connections and the flows' integrations, with "Test connections" (the doctor's checks). */

export default function Connections() {
  const { can } = useSession();
  const flows = useQuery({ queryKey: ['flows'], queryFn: () => call(api.GET('/api/flows')) });
  const test = useMutation({ mutationFn: () => call(api.POST('/api/checks')) });
  return (
    <>
      <PageHeader title="Connections">
        {can('POST', '/api/checks') && (
          <Button appearance="primary" onClick={() => test.mutate()} disabled={test.isPending}>
            {test.isPending ? 'Testing…' : 'Test connections'}
          </Button>
        )}
      </PageHeader>
      <ErrorBar error={flows.error ?? test.error} />
      {flows.isPending ? (
        <Loading />
      ) : (
        <>
          <Title3 as="h2">ITSM</Title3>
          {flows.data?.itsm.length ? (
            <ul>
              {flows.data.itsm.map((c) => (
                <li key={c.name}>
                  {c.type} <b>{c.name}</b>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No ITSM connection is configured.</Empty>
          )}
          <Title3 as="h2">Integrations</Title3>
          <ul>
            {flows.data?.flows.flatMap((f) =>
              f.integrations.map((i) => (
                <li key={`${f.name}/${i.name}`}>
                  {f.name}: <b>{i.name}</b> {i.enabled ? '' : '(disabled)'}
                </li>
              )),
            )}
          </ul>
        </>
      )}
      {test.data && (
        <Scroll label="Check results">
          <Table aria-label="Check results">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Result</TableHeaderCell>
                <TableHeaderCell>Connection</TableHeaderCell>
                <TableHeaderCell>Check</TableHeaderCell>
                <TableHeaderCell>Detail</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {test.data.results.map((r, n) => (
                <TableRow key={n}>
                  <TableCell>{r.ok ? '✓ ok' : '✗ failed'}</TableCell>
                  <TableCell>{r.target}</TableCell>
                  <TableCell>{r.check}</TableCell>
                  <TableCell>
                    <Text>{r.detail}</Text>
                    {r.fix && <Text block>Fix: {r.fix}</Text>}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Scroll>
      )}
    </>
  );
}
