import { Badge, Button, Card, Checkbox, Field, Input, Select, Text, Textarea } from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Empty, ErrorBar, Loading, Notice, PageHeader } from '../../components/common.tsx';
import {
  ESCALATION_MODES,
  loadSetup,
  saveSetup,
  secretVariables,
  setupCommand,
  testSetup,
  type CheckRow,
  type SaveResult,
  type SetupForm,
  type SetupView,
} from './setup-data.ts';

/**
 * Microsoft 365 setup (admins): how each integration is set up, the same fields as
 * `ticketloop setup m365` with Save (secrets typed into password fields, never prefilled, stored
 * encrypted; an empty one keeps the stored one) and the command for those who prefer the CLI, then
 * "Test setup" on the saved setup with each check's fix.
 */

function Current({ view }: { view: SetupView }) {
  const ms = view.microsoft;
  return (
    <Card aria-label="Current setup">
      <Text weight="semibold">Current setup</Text>
      {ms ? (
        <Text block>
          Tenant {ms.tenantId}, app {ms.clientId}: {ms.credential}
          {ms.kept ? ` (${ms.kept})` : ''}
        </Text>
      ) : (
        <Text block>No Microsoft connection is configured yet.</Text>
      )}
      {view.pending && <Notice intent="warning">Saved: {view.pending}.</Notice>}
      {view.integrations.length === 0 && <Empty>No Microsoft 365 integration yet: fill in the form below.</Empty>}
      {view.integrations.map((i) => (
        <Text block key={i.name}>
          <strong>{i.name}</strong> → {i.itsm}; escalation {i.escalation.mode}
          {i.escalation.mode === 'off' ? ' (Insights only)' : ''}
          {i.escalation.contact ? `, contact ${i.escalation.contact}` : ''}
          {i.testEnvironment ? '; test environment' : ''}
          {i.enabled ? '' : '; disabled'}
        </Text>
      ))}
    </Card>
  );
}

function CheckList({ results }: { results: CheckRow[] }) {
  return (
    <ul aria-label="Test setup results" style={{ listStyle: 'none', padding: 0 }}>
      {results.map((r) => (
        <li key={`${r.target}/${r.check}`} style={{ marginBottom: 8 }}>
          <Badge appearance="filled" color={r.ok ? 'success' : 'danger'}>
            {r.ok ? 'passed' : 'failed'}
          </Badge>{' '}
          <Text weight="semibold">
            {r.target} — {r.check}
          </Text>
          <Text block size={200}>
            {r.detail}
          </Text>
          {r.fix && (
            <Text block size={200}>
              Fix: {r.fix}
            </Text>
          )}
        </li>
      ))}
    </ul>
  );
}

function TestSetup({ view }: { view: SetupView }) {
  const [chosen, setName] = useState('');
  const name = view.integrations.some((i) => i.name === chosen) ? chosen : (view.integrations[0]?.name ?? '');
  const run = useMutation({ mutationFn: () => testSetup(name) });
  if (!view.integrations.length) return null;
  const failed = run.data?.results.filter((r) => !r.ok).length ?? 0;
  return (
    <Card aria-label="Test setup">
      <Field label="Integration">
        <Select value={name} onChange={(_e, d) => setName(d.value)}>
          {view.integrations.map((i) => (
            <option key={i.name}>{i.name}</option>
          ))}
        </Select>
      </Field>
      <Button appearance="primary" onClick={() => run.mutate()} disabled={run.isPending}>
        {run.isPending ? 'Testing…' : 'Test setup'}
      </Button>
      <ErrorBar error={run.error} />
      {run.data && (
        <>
          <Notice intent={failed ? 'warning' : 'success'}>
            {failed ? `${failed} check(s) failed: each says its fix` : 'Every check passed'}
          </Notice>
          <CheckList results={run.data.results} />
        </>
      )}
    </Card>
  );
}

function initialForm(view: SetupView): SetupForm {
  const i = view.integrations[0];
  const sn = view.itsm.find((c) => c.name === i?.itsm);
  const basic = sn?.auth === 'basic';
  return {
    name: i?.name ?? 'm365',
    tenant: view.microsoft?.tenantId ?? '',
    clientId: view.microsoft?.clientId ?? '',
    credential: view.microsoft?.credential === 'certificate' ? 'certificate' : 'secret',
    certificateFile: '',
    clientSecret: '',
    certificatePem: '',
    itsm: i?.itsm ?? view.itsm[0]?.name ?? 'servicenow',
    instance: sn?.instanceUrl ?? '',
    snAuth: basic ? 'basic' : 'oauth',
    snClientId: !basic ? (sn?.account ?? '') : '',
    snUsername: basic ? (sn?.account ?? '') : '',
    snClientSecret: '',
    snPassword: '',
    testEnvironment: i?.testEnvironment ?? false,
    escalation: (i?.escalation.mode as SetupForm['escalation']) ?? 'off',
    subscription: i?.escalation.subscription ?? '',
    contactFirstName: '',
    contactLastName: '',
    contactEmail: '',
    contactTimeZone: '',
    contactCountry: '',
  };
}

function SaveSteps({ result }: { result: SaveResult }) {
  const failed = result.steps.some((s) => s.outcome === 'failed');
  return (
    <>
      <Notice intent={failed || result.restartNeeded ? 'warning' : 'success'}>
        {result.saved ? `Saved: ${result.message}` : result.message}
      </Notice>
      <ul aria-label="Saved steps" style={{ listStyle: 'none', padding: 0 }}>
        {result.steps.map((s) => (
          <li key={s.what}>
            <Badge appearance="tint" color={s.outcome === 'failed' ? 'danger' : 'informative'}>
              {s.outcome}
            </Badge>{' '}
            {s.what}
            {s.detail ? ` — ${s.detail}` : ''}
          </li>
        ))}
      </ul>
    </>
  );
}

function SetupFields({ view }: { view: SetupView }) {
  const [f, setF] = useState<SetupForm>(() => initialForm(view));
  const set = <K extends keyof SetupForm>(k: K, v: SetupForm[K]) => setF((x) => ({ ...x, [k]: v }));
  const queries = useQueryClient();
  const save = useMutation({
    mutationFn: () => saveSetup(f),
    onSuccess: async () => {
      // The secrets typed here are not kept in the page once stored.
      setF((x) => ({ ...x, clientSecret: '', certificatePem: '', snClientSecret: '', snPassword: '' }));
      await queries.invalidateQueries({ queryKey: ['m365', 'setup'] });
    },
  });
  const secret = (k: keyof SetupForm, label: string, kept: boolean) => (
    <Field label={label} hint={kept ? 'empty: keep the one stored' : undefined}>
      <Input
        type="password"
        autoComplete="new-password"
        value={String(f[k])}
        onChange={(_e, d) => set(k, d.value as never)}
      />
    </Field>
  );
  const text = (k: keyof SetupForm, label: string, hint?: string) => (
    <Field label={label} hint={hint}>
      <Input value={String(f[k])} onChange={(_e, d) => set(k, d.value as never)} />
    </Field>
  );
  const known = view.itsm.some((c) => c.name === f.itsm);
  const knownAuth = view.itsm.find((c) => c.name === f.itsm)?.auth;
  const vars = secretVariables(f);
  return (
    <Card aria-label="Setup fields">
      <Text weight="semibold">Set up or change an integration</Text>
      {text('name', 'Integration name')}
      {text('tenant', 'Tenant domain', 'contoso.onmicrosoft.com')}
      {text('clientId', 'Application (client) ID of the Entra app Ticketloop signs in as')}
      <Field label="The app's credential">
        <Select value={f.credential} onChange={(_e, d) => set('credential', d.value as SetupForm['credential'])}>
          <option value="secret">Client secret</option>
          <option value="certificate">Certificate (key and certificate, PEM)</option>
        </Select>
      </Field>
      {f.credential === 'secret' && secret('clientSecret', 'Client secret', view.microsoft?.kept != null)}
      {f.credential === 'certificate' && (
        <>
          <Field label="Certificate PEM (private key and certificate)" hint="empty: keep the one stored">
            <Textarea
              value={f.certificatePem}
              onChange={(_e, d) => set('certificatePem', d.value)}
              rows={4}
              spellCheck={false}
            />
          </Field>
          {text('certificateFile', 'Certificate PEM file on the Ticketloop host (for the command)')}
        </>
      )}
      {text('itsm', 'ServiceNow connection', known ? 'configured' : 'not configured yet: give the instance below')}
      {text(
        'instance',
        'ServiceNow instance URL (to create or change the connection)',
        'https://<name>.service-now.com',
      )}
      {f.instance.trim() && (
        <>
          <Field label="ServiceNow sign-in">
            <Select value={f.snAuth} onChange={(_e, d) => set('snAuth', d.value as SetupForm['snAuth'])}>
              <option value="oauth">OAuth (client credentials)</option>
              <option value="basic">Basic (an integration user)</option>
            </Select>
          </Field>
          {f.snAuth === 'oauth' ? (
            <>
              {text('snClientId', 'OAuth client ID (Application Registry)')}
              {secret('snClientSecret', 'OAuth client secret', knownAuth === 'oauth')}
            </>
          ) : (
            <>
              {text('snUsername', 'User name (needs itil)')}
              {secret('snPassword', 'Password', knownAuth === 'basic')}
            </>
          )}
        </>
      )}
      <Checkbox
        label="This is a test environment (escalations say so, so Microsoft's engineers do not call)"
        checked={f.testEnvironment}
        onChange={(_e, d) => set('testEnvironment', d.checked === true)}
      />
      <Field label="Escalation">
        <Select value={f.escalation} onChange={(_e, d) => set('escalation', d.value as SetupForm['escalation'])}>
          {ESCALATION_MODES.map((m) => (
            <option key={m} value={m}>
              {m === 'off' ? 'off (Insights only)' : m}
            </option>
          ))}
        </Select>
      </Field>
      {(f.escalation === 'azure-support' || f.escalation === 'both') &&
        text('subscription', 'Azure subscription id (its support plan opens the tickets)')}
      {f.escalation !== 'off' && (
        <>
          {text('contactFirstName', 'Contact first name (the linked administrator account)')}
          {text('contactLastName', 'Contact last name')}
          {text('contactEmail', 'Contact e-mail')}
          {text('contactTimeZone', 'Contact time zone', 'a Windows time zone name: W. Europe Standard Time')}
          {text('contactCountry', 'Contact country', 'ISO 3166-1 alpha-3: usa, deu')}
        </>
      )}
      <Button appearance="primary" onClick={() => save.mutate()} disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save'}
      </Button>
      <ErrorBar error={save.error} />
      {save.data && <SaveSteps result={save.data} />}
      <Notice intent="info">
        Or run this where Ticketloop's configuration file is
        {vars.length ? `, after setting ${vars.join(' and ')} in that shell` : ''}: the secrets never go in the command.
      </Notice>
      <Field label="Command">
        <Textarea readOnly value={setupCommand(f)} rows={8} />
      </Field>
    </Card>
  );
}

export default function SetupPage() {
  const setup = useQuery({ queryKey: ['m365', 'setup'], queryFn: loadSetup });
  return (
    <>
      <PageHeader title="Microsoft 365 setup" />
      {setup.isPending && <Loading />}
      <ErrorBar error={setup.error} />
      {setup.data && (
        <>
          <Current view={setup.data} />
          <SetupFields view={setup.data} />
          <TestSetup view={setup.data} />
        </>
      )}
    </>
  );
}
