import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostAllowList } from '../../src/app/allowlist.ts';
import type { Config } from '../../src/config/schema.ts';

type Part = Pick<Config, 'outbound' | 'itsm' | 'integrations' | 'microsoft'>;

const configured: Part = {
  outbound: {},
  itsm: [{ type: 'servicenow', name: 'prod', instanceUrl: 'https://acme.service-now.com', timeoutMs: 1 }],
  microsoft: {
    tenantId: 't',
    clientId: 'c',
    clientSecret: 's',
    authorityHost: 'https://login.microsoftonline.com',
    graphUrl: 'https://graph.microsoft.com',
    armUrl: 'https://management.azure.com',
  },
  integrations: [
    {
      name: 'd',
      type: 'defender',
      enabled: true,
      itsm: 'prod',
      notifications: { smtp: { host: 'smtp.acme.example', port: 587 } },
    },
  ],
};

test('outbound.allowHosts: by default the hosts (and ports) of the configured connections', () => {
  const a = new HostAllowList(configured);
  assert.equal(a.explicit, false);
  assert.ok(a.allows('smtp.acme.example', 587));
  assert.ok(a.allows('SMTP.acme.example.', 587), 'case and a trailing dot do not matter');
  assert.ok(!a.allows('smtp.acme.example', 25), 'another port of a configured server is not allowed');
  assert.ok(a.allows('acme.service-now.com', 443));
  assert.ok(a.allows('graph.microsoft.com', 443));
  assert.ok(!a.allows('mail.attacker.example', 587));
  assert.match(a.describe(), /outbound\.allowHosts \(not set; .*smtp\.acme\.example:587/);
});

test('outbound.allowHosts when set: exactly its entries — host, host:port, *.domain, [v6]:port', () => {
  const a = new HostAllowList({
    ...configured,
    outbound: { allowHosts: ['relay.example.com', 'mx.example.org:25', '*.mail.example.net', '[::1]:2525'] },
  });
  assert.ok(a.allows('relay.example.com', 2525), 'a bare host allows every port');
  assert.ok(a.allows('mx.example.org', 25) && !a.allows('mx.example.org', 587));
  assert.ok(a.allows('eu.mail.example.net', 587) && !a.allows('mail.example.net', 587), 'subdomains only');
  assert.ok(!a.allows('evilmail.example.net', 587));
  assert.ok(a.allows('::1', 2525) && a.allows('[::1]', 2525));
  assert.ok(!a.allows('smtp.acme.example', 587), 'the defaults no longer apply');
  assert.ok(!new HostAllowList({ ...configured, outbound: { allowHosts: ['127.0.0.1'] } }).allows('127.1', 25));
});
