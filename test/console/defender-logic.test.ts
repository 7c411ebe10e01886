import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assignmentQuery,
  cascadeSentences,
  csvHref,
  describeScope,
  EMPTY_FORM,
  errorsByField,
  integrationBody,
  NO_FILTERS,
  parseExtraFields,
  progressText,
  scopeFor,
} from '../../console/src/flows/defender/logic.ts';
import { shownFlows } from '../../console/src/lib/flows.ts';
import { isArmScope } from '../../src/connectors/microsoft/arm.ts';

/**
 * The Defender pages' logic without a browser: scopes (the ARM scope forms of
 * src/connectors/microsoft/arm.ts), the create body (the schema of src/flows/defender/config.ts),
 * the API's field errors (its `details[].path`), the assignments query and the delete cascade
 * (src/flows/defender/cleanup.ts).
 */

const CONNECTOR =
  '/subscriptions/6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f/resourceGroups/rg-multicloud/providers/Microsoft.Security/securityConnectors/aws-prod';

describe('console: Defender logic', () => {
  test('each scope kind gives a whole ARM scope, and the list names it back', () => {
    const mg = scopeFor('managementGroup', ' contoso-root ');
    const sub = scopeFor('subscription', '6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f');
    for (const s of [mg, sub, scopeFor('connector', CONNECTOR)]) assert.ok(isArmScope(s), s);
    assert.deepEqual(describeScope(mg), { kind: 'Management group', name: 'contoso-root' });
    assert.deepEqual(describeScope(sub), { kind: 'Subscription', name: '6f1c2a7e-3b4d-4c5e-9f60-7a8b9c0d1e2f' });
    assert.deepEqual(describeScope(CONNECTOR), { kind: 'Security connector', name: 'aws-prod' });
  });

  test('the create body: default mapping sends only owner and caller; customized sends its fields', () => {
    const base = { ...EMPTY_FORM, name: 'prod', itsm: 'sandbox', scopeId: 'contoso-root' };
    assert.deepEqual(integrationBody({ ...base, assignedTo: 'a@example.com', category: 'ignored' }), {
      name: 'prod',
      itsm: 'sandbox',
      scope: '/providers/Microsoft.Management/managementGroups/contoso-root',
      ticketType: 'incident',
      grouping: 'recommendation',
      dailyCap: 100,
      mapping: { mode: 'default', assignedTo: 'a@example.com' },
    });
    const custom = integrationBody({
      ...base,
      mode: 'customized',
      impact: '2',
      category: 'security',
      severities: ['High'],
      extraFields: 'u_source = defender:{assessmentKey}\n\n',
    });
    assert.deepEqual(custom.filters, { severities: ['High'] });
    assert.deepEqual(custom.mapping, {
      mode: 'customized',
      shortDescription: '[{severity}] {title}',
      impact: '2',
      category: 'security',
      fields: { u_source: 'defender:{assessmentKey}' },
    });
    assert.match(parseExtraFields('no equals sign').problem ?? '', /line 1/);
  });

  test("the API's field errors land on their fields; the rest are listed apart", () => {
    const { fields, other } = errorsByField([
      { path: 'body.scope', message: 'not a scope' },
      { path: 'body.mapping.assignedTo', message: 'Invalid email address' },
      { path: 'body.mapping.fields.Bad', message: 'must be a field name' },
      { path: 'body.filters.severities[0]', message: 'Invalid option' },
      { path: 'body.pageSize', message: 'too small' },
    ]);
    assert.deepEqual(fields, {
      scope: 'not a scope',
      'mapping.assignedTo': 'Invalid email address',
      'mapping.fields': 'must be a field name',
      'filters.severities': 'Invalid option',
    });
    assert.deepEqual(other, ['pageSize: too small']);
  });

  test('the assignments query leaves empty filters out, the CSV takes the same', () => {
    const f = { ...NO_FILTERS, severity: 'High', overdue: 'true' as const, owner: ' ' };
    assert.deepEqual(assignmentQuery(f), { severity: 'High', overdue: 'true' });
    assert.equal(csvHref(f), '/api/defender/assignments.csv?severity=High&overdue=true');
    assert.equal(csvHref(NO_FILTERS), '/api/defender/assignments.csv');
  });

  test('progress and the cascade in words', () => {
    assert.match(
      progressText('running', { pages: 3, assessments: 12000, unhealthy: 40 }),
      /^Page 3: 12,000 assessments/,
    );
    assert.match(progressText('queued', null), /Waiting/);
    const words = cascadeSentences({ assessments: 12, governanceAssignments: 1, openTickets: 5, items: 6 }).join(' ');
    assert.match(words, /1 governance assignment Ticketloop wrote/);
    assert.match(words, /5 open tickets will get a note/);
  });

  test('Defender pages show as soon as the flow runs (integrations are created there); others need one', () => {
    const flows = [
      { name: 'defender', integrations: [] },
      { name: 'entitlement', integrations: [{ enabled: false }] },
      { name: 'm365', integrations: [{ enabled: true }] },
    ];
    assert.deepEqual(shownFlows(flows), ['defender', 'm365']);
  });
});
