import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/app/config.ts';
import { ConfigError } from '../../src/config/load.ts';
import { normaliseScope } from '../../src/connectors/microsoft/arm.ts';

// Security review, issue 10, finding 7: a scope is one whole ARM scope, or it is refused by name.

const SUB = '/subscriptions/6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f';

function problems(scope: string): string {
  try {
    validateConfig(
      {
        servicenow: [
          {
            name: 'sn',
            instanceUrl: 'https://x.service-now.com',
            auth: { type: 'basic', username: 'u', password: 'p' },
          },
        ],
        integrations: [{ name: 'd', type: 'defender', itsm: 'sn', scope }],
      },
      'test',
    );
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    throw e;
  }
  return 'valid';
}

test('the ".." scope of the review and other malformed scopes are refused, naming the field', () => {
  const bad = [
    // The reported one: accepted by the old (unanchored) pattern, it reached ARM as another provider's path.
    `${SUB}/../../providers/Microsoft.Authorization/roleAssignments`,
    '/providers/Microsoft.Management/managementGroups/root/..',
    '/providers/Microsoft.Management/managementGroups/..',
    `${SUB}/resourceGroups/..`,
    `${SUB}//resourceGroups/rg`,
    `${SUB}/`,
    `${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`,
    '/subscriptions/not-a-guid',
    '/providers/Microsoft.Authorization/x',
    `${SUB}/resourceGroups/rg/providers/Microsoft.Security/securityConnectors/`,
    `${SUB}/resourceGroups/rg?api-version=1`,
    'not-a-scope',
    '',
  ];
  for (const scope of bad) assert.match(problems(scope), /^integrations\[0\]\.scope: a subscription, /, scope);
});

test('whole scopes of each kind are accepted', () => {
  const good = [
    SUB,
    SUB.slice(1), // the leading slash may be left out
    SUB.toUpperCase(),
    '/providers/Microsoft.Management/managementGroups/contoso-root',
    `${SUB}/resourceGroups/rg-prod_01(eu).web`,
    `${SUB}/resourceGroups/rg/providers/Microsoft.Security/securityConnectors/aws-connector`,
  ];
  for (const scope of good) assert.equal(problems(scope), 'valid', scope);
});

test('the ARM URL builder refuses "." , ".." and empty segments whatever the caller validated', () => {
  for (const scope of [`${SUB}/..`, `${SUB}/./x`, `${SUB}//x`])
    assert.throws(() => normaliseScope(scope), /empty, "\." or "\.\." segment/);
  assert.equal(normaliseScope(`${SUB.slice(1)}/`), SUB);
});
