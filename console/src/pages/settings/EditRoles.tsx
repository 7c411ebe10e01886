import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  DialogTrigger,
} from '@fluentui/react-components';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Role } from '../../../../src/identity/roles.ts';
import { api, call } from '../../api/client.ts';
import { ErrorBar } from '../../components/common.tsx';
import { RolePicker } from '../../components/RolePicker.tsx';

/** Change a local account's roles (PATCH /api/users/:id); an OpenID user's come from the identity provider. */
export function EditRoles({ user, onSaved }: { user: { id: string; name: string; roles: Role[] }; onSaved(): void }) {
  const [open, setOpen] = useState(false);
  const [roles, setRoles] = useState<Role[]>(user.roles);
  const queries = useQueryClient();
  const save = useMutation({
    mutationFn: (next: Role[]) =>
      call(api.PATCH('/api/users/{id}', { params: { path: { id: user.id } }, body: { roles: next } })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['users'] });
      setOpen(false);
      onSaved();
    },
  });
  return (
    <Dialog
      open={open}
      onOpenChange={(_e, d) => {
        setOpen(d.open);
        if (d.open) {
          setRoles(user.roles);
          save.reset();
        }
      }}
    >
      <DialogTrigger disableButtonEnhancement>
        <Button size="small">Edit roles of {user.name}</Button>
      </DialogTrigger>
      <DialogSurface>
        <DialogBody>
          <DialogTitle>Roles of {user.name}</DialogTitle>
          <DialogContent>
            <RolePicker value={roles} onChange={setRoles} />
            <ErrorBar error={save.error} />
          </DialogContent>
          <DialogActions>
            <DialogTrigger disableButtonEnhancement>
              <Button>Cancel</Button>
            </DialogTrigger>
            <Button appearance="primary" onClick={() => save.mutate(roles)} disabled={save.isPending}>
              Save roles
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
