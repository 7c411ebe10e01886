import {
  Button,
  Card,
  Field,
  Input,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Title3,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, call } from '../../api/client.ts';
import { useSession } from '../../auth/session.tsx';
import { Empty, ErrorBar, Loading, Notice, PageHeader, Scroll } from '../../components/common.tsx';
import { RolePicker } from '../../components/RolePicker.tsx';
import { dateTime } from '../../lib/format.ts';
import type { Role } from '../../../../src/identity/roles.ts';

/** API tokens: yours (admins: all). A new token's value is shown once, here, and never again. */

export default function Tokens() {
  const { me } = useSession();
  const queries = useQueryClient();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => call(api.GET('/api/tokens')) });
  const [roles, setRoles] = useState<Role[]>(me?.roles ?? []);
  const refresh = () => queries.invalidateQueries({ queryKey: ['tokens'] });
  const create = useMutation({
    mutationFn: (body: { name: string; roles: Role[]; days?: number }) => call(api.POST('/api/tokens', { body })),
    onSuccess: () => void refresh(),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.DELETE('/api/tokens/{id}', { params: { path: { id } } })),
    onSuccess: () => void refresh(),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const days = Number(f.get('days') ?? '') || undefined;
    create.mutate({ name: String(f.get('name') ?? ''), roles, ...(days ? { days } : {}) });
  }
  const list = tokens.data?.tokens ?? [];
  return (
    <>
      <PageHeader title="API tokens" />
      <ErrorBar error={tokens.error ?? create.error ?? revoke.error} />
      {create.data && (
        <Notice>
          Token {create.data.name} created. Copy it now, it is not shown again:{' '}
          <code data-testid="new-token">{create.data.token}</code>
        </Notice>
      )}
      {tokens.isPending ? (
        <Loading />
      ) : list.length === 0 ? (
        <Empty>No token yet.</Empty>
      ) : (
        <Scroll label="Tokens">
          <Table aria-label="Tokens">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Name</TableHeaderCell>
                <TableHeaderCell>Kind</TableHeaderCell>
                <TableHeaderCell>Roles</TableHeaderCell>
                <TableHeaderCell>Expires</TableHeaderCell>
                <TableHeaderCell>Last used</TableHeaderCell>
                <TableHeaderCell>State</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {list.map((t) => (
                <TableRow key={t.id}>
                  <TableCell>{t.name}</TableCell>
                  <TableCell>{t.kind}</TableCell>
                  <TableCell>{t.roles.join(', ')}</TableCell>
                  <TableCell>{dateTime(t.expiresAt)}</TableCell>
                  <TableCell>{dateTime(t.lastUsedAt)}</TableCell>
                  <TableCell>
                    {t.active ? (
                      <Button size="small" onClick={() => revoke.mutate(t.id)}>
                        Revoke {t.name}
                      </Button>
                    ) : (
                      'revoked or expired'
                    )}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Scroll>
      )}
      {me?.via === 'session' && (
        <Card style={{ marginTop: 24, maxWidth: 560 }}>
          <Title3 as="h2">Create a personal token</Title3>
          <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
            <Field label="Name" required>
              <Input name="name" autoComplete="off" />
            </Field>
            <Field label="Valid for (days)" hint="empty: the default lifetime">
              <Input name="days" type="number" min={1} max={3650} />
            </Field>
            <RolePicker value={roles} onChange={setRoles} offer={me.roles} label="Roles (some or all of yours)" />
            <Button type="submit" appearance="primary" disabled={create.isPending}>
              Create token
            </Button>
          </form>
        </Card>
      )}
    </>
  );
}
