import { Button, Card, Field, Input, Text, Title3 } from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { Role } from '../../../../src/identity/roles.ts';
import { api, call } from '../../api/client.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { Empty, ErrorBar, Loading, Notice, PageHeader } from '../../components/common.tsx';
import { RolePicker } from '../../components/RolePicker.tsx';
import { dateTime } from '../../lib/format.ts';
import { EditRoles } from './EditRoles.tsx';

/** Users and their roles (admins): list, create a local account, change its roles, disable or enable. */

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
        <DataTable
          label="Users"
          rows={list}
          rowKey={(u) => u.id}
          columns={[
            { label: 'Name', render: (u) => (u.displayName === u.name ? u.name : `${u.displayName} (${u.name})`) },
            { label: 'Roles', render: (u) => u.roles.join(', ') || 'none' },
            { label: 'Source', render: (u) => u.source },
            { label: 'Last sign-in', render: (u) => dateTime(u.lastSignInAt) },
            {
              label: 'Account',
              render: (u) => (
                <div style={{ display: 'flex', flexWrap: 'wrap', gap: 4 }}>
                  {u.source === 'oidc' ? (
                    <Text size={200}>roles from the identity provider</Text>
                  ) : (
                    <EditRoles user={u} onSaved={() => setCreated(`The roles of ${u.name} are saved.`)} />
                  )}
                  <Button size="small" onClick={() => toggle.mutate({ id: u.id, disabled: !u.disabled })}>
                    {u.disabled ? `Enable ${u.name}` : `Disable ${u.name}`}
                  </Button>
                </div>
              ),
            },
          ]}
        />
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
