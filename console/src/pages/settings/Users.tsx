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
import type { Role } from '../../../../src/identity/roles.ts';
import { api, call } from '../../api/client.ts';
import { Empty, ErrorBar, Loading, Notice, PageHeader, Scroll } from '../../components/common.tsx';
import { RolePicker } from '../../components/RolePicker.tsx';
import { dateTime } from '../../lib/format.ts';

/** Users and their roles (admins): list, create a local account, disable or enable. */

export default function Users() {
  const queries = useQueryClient();
  const users = useQuery({ queryKey: ['users'], queryFn: () => call(api.GET('/api/users')) });
  const [roles, setRoles] = useState<Role[]>(['operator']);
  const [created, setCreated] = useState<string>();
  const refresh = () => queries.invalidateQueries({ queryKey: ['users'] });
  const create = useMutation({
    mutationFn: (body: { name: string; password?: string; roles: Role[] }) => call(api.POST('/api/users', { body })),
    onSuccess: (r) => {
      setCreated(`${r.user.name} created.`);
      void refresh();
    },
  });
  const toggle = useMutation({
    mutationFn: (u: { id: string; disabled: boolean }) =>
      call(api.PATCH('/api/users/{id}', { params: { path: { id: u.id } }, body: { disabled: u.disabled } })),
    onSuccess: () => void refresh(),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const password = String(f.get('password') ?? '');
    create.mutate({ name: String(f.get('name') ?? ''), ...(password ? { password } : {}), roles });
  }
  const list = users.data?.users ?? [];
  return (
    <>
      <PageHeader title="Users and roles" />
      <ErrorBar error={users.error ?? create.error ?? toggle.error} />
      {created && <Notice>{created}</Notice>}
      {users.isPending ? (
        <Loading />
      ) : list.length === 0 ? (
        <Empty>No user.</Empty>
      ) : (
        <Scroll label="Users">
          <Table aria-label="Users">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Name</TableHeaderCell>
                <TableHeaderCell>Roles</TableHeaderCell>
                <TableHeaderCell>Source</TableHeaderCell>
                <TableHeaderCell>Last sign-in</TableHeaderCell>
                <TableHeaderCell>Account</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {list.map((u) => (
                <TableRow key={u.id}>
                  <TableCell>{u.displayName === u.name ? u.name : `${u.displayName} (${u.name})`}</TableCell>
                  <TableCell>{u.roles.join(', ') || 'none'}</TableCell>
                  <TableCell>{u.source}</TableCell>
                  <TableCell>{dateTime(u.lastSignInAt)}</TableCell>
                  <TableCell>
                    <Button size="small" onClick={() => toggle.mutate({ id: u.id, disabled: !u.disabled })}>
                      {u.disabled ? `Enable ${u.name}` : `Disable ${u.name}`}
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Scroll>
      )}
      <Card style={{ marginTop: 24, maxWidth: 560 }}>
        <Title3 as="h2">Add a local account</Title3>
        <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
          <Field label="Name" required>
            <Input name="name" autoComplete="off" />
          </Field>
          <Field label="Password" hint="12 characters or more; leave empty to set one later">
            <Input name="password" type="password" autoComplete="new-password" />
          </Field>
          <RolePicker value={roles} onChange={setRoles} />
          <Button type="submit" appearance="primary" disabled={create.isPending}>
            Add account
          </Button>
        </form>
      </Card>
    </>
  );
}
