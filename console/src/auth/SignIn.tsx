import {
  Button,
  Card,
  Divider,
  Field,
  Input,
  makeStyles,
  MessageBar,
  MessageBarBody,
  Spinner,
  Text,
  Title2,
  tokens,
} from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, call } from '../api/client.ts';
import { useSession } from './session.tsx';

/** Sign-in: a local account, Microsoft (when configured), or the first admin while no user exists. */

const useStyles = makeStyles({
  page: {
    minHeight: '100vh',
    display: 'grid',
    placeItems: 'center',
    padding: tokens.spacingHorizontalL,
    backgroundColor: tokens.colorNeutralBackground2,
  },
  card: { width: 'min(400px, 100%)', padding: tokens.spacingHorizontalXXL },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

function message(e: unknown): string {
  return e instanceof ApiError ? e.message : 'Ticketloop cannot be reached; try again shortly.';
}

export function SignIn() {
  const styles = useStyles();
  const session = useSession();
  const methods = useQuery({ queryKey: ['auth-methods'], queryFn: () => call(api.GET('/api/auth/methods')) });
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>, work: (form: FormData) => Promise<unknown>) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await work(new FormData(e.currentTarget));
      await session.signedIn();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }
  const text = (form: FormData, name: string) => String(form.get(name) ?? '');

  const login = (form: FormData) =>
    call(api.POST('/api/auth/login', { body: { name: text(form, 'name'), password: text(form, 'password') } }));
  const firstAdmin = async (form: FormData) => {
    const name = text(form, 'name');
    const password = text(form, 'password');
    await call(api.POST('/api/setup/first-admin', { body: { token: text(form, 'token'), name, password } }));
    await login(form);
  };

  const setup = methods.data?.setupRequired;
  // The fragment too: an e-mail's decision link carries its token there (pod/DecisionLinkDialog.tsx).
  const returnTo = window.location.pathname + window.location.search + window.location.hash;
  return (
    <main className={styles.page}>
      <Card className={styles.card}>
        <Title2 as="h1">{setup ? 'Create the first admin' : 'Sign in to Ticketloop'}</Title2>
        {session.notice && (
          <MessageBar intent="info">
            <MessageBarBody>{session.notice}</MessageBarBody>
          </MessageBar>
        )}
        {error && (
          <MessageBar intent="error" role="alert">
            <MessageBarBody>{error}</MessageBarBody>
          </MessageBar>
        )}
        {methods.isPending ? (
          <Spinner label="Loading" />
        ) : setup ? (
          <form className={styles.form} onSubmit={(e) => submit(e, firstAdmin)}>
            <Text>
              No user exists yet. Enter the one-time setup token Ticketloop printed at its start, and the admin account
              to create.
            </Text>
            <Field label="Setup token" required>
              <Input name="token" autoComplete="off" />
            </Field>
            <Field label="Admin name" required>
              <Input name="name" autoComplete="username" defaultValue="admin" />
            </Field>
            <Field label="Password" required hint="12 characters or more">
              <Input name="password" type="password" autoComplete="new-password" />
            </Field>
            <Button appearance="primary" type="submit" disabled={busy}>
              Create admin and sign in
            </Button>
          </form>
        ) : (
          <>
            <form className={styles.form} onSubmit={(e) => submit(e, login)}>
              <Field label="Name" required>
                <Input name="name" autoComplete="username" />
              </Field>
              <Field label="Password" required>
                <Input name="password" type="password" autoComplete="current-password" />
              </Field>
              <Button appearance="primary" type="submit" disabled={busy}>
                Sign in
              </Button>
            </form>
            {methods.data?.oidc && (
              <>
                <Divider>or</Divider>
                <Button
                  as="a"
                  href={`${methods.data.oidc.startUrl}?returnTo=${encodeURIComponent(returnTo)}`}
                  appearance="secondary"
                >
                  Sign in with Microsoft
                </Button>
                <Text size={200}>Through {methods.data.oidc.displayName}.</Text>
              </>
            )}
          </>
        )}
      </Card>
    </main>
  );
}
