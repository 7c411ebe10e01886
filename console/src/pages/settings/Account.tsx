import { Button, Card, Field, Input, Text } from '@fluentui/react-components';
import { useMutation } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { api, call, setCsrfToken } from '../../api/client.ts';
import { useSession } from '../../auth/session.tsx';
import { ErrorBar, Notice, PageHeader } from '../../components/common.tsx';

/** Your account: who you are, your roles, and a new password (local accounts). */

export default function Account() {
  const { me, signedIn } = useSession();
  const change = useMutation({
    mutationFn: (body: { current: string; password: string }) => call(api.POST('/api/auth/password', { body })),
    // A password change opens a fresh session (the others end): take its CSRF token.
    onSuccess: async (r) => {
      setCsrfToken(r.csrfToken);
      await signedIn();
    },
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    change.mutate({ current: String(f.get('current') ?? ''), password: String(f.get('password') ?? '') });
    e.currentTarget.reset();
  }
  return (
    <>
      <PageHeader title="Your account" />
      <Text block>
        Signed in as <b>{me?.name}</b> with {me?.roles.join(', ') || 'no role'}.
      </Text>
      <Card style={{ marginTop: 24, maxWidth: 480 }}>
        <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
          <Field label="Current password" required>
            <Input name="current" type="password" autoComplete="current-password" />
          </Field>
          <Field label="New password" required hint="12 characters or more">
            <Input name="password" type="password" autoComplete="new-password" />
          </Field>
          <Button type="submit" appearance="primary" disabled={change.isPending}>
            Change password
          </Button>
        </form>
      </Card>
      {change.isSuccess && <Notice>Your password is changed; your other sessions have ended.</Notice>}
      <ErrorBar error={change.error} />
    </>
  );
}
