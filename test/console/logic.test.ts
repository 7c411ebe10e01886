import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allowed, requirementOf } from '../../console/src/lib/access.ts';
import { countdown, dateTime, duration, relative, sparklinePoints, words } from '../../console/src/lib/format.ts';
import { REQUIRED_ROLES } from '../../console/src/api/roles.gen.ts';
import { requiredRoles } from '../../scripts/openapi.ts';

/** The console's logic that needs no browser: what a role may do, times and countdowns, sparklines. */

describe('console: the role map', () => {
  test('built from the OpenAPI document: every /api/ operation with its x-required-role', () => {
    const doc = {
      paths: {
        '/api/jobs': { get: { 'x-required-role': 'read' } },
        '/api/jobs/{id}/retry': { post: { 'x-required-role': 'operator' }, parameters: [] },
        '/healthz': { get: {} },
      },
    };
    assert.deepEqual(requiredRoles(doc), { 'GET /api/jobs': 'read', 'POST /api/jobs/{id}/retry': 'operator' });
  });

  test('the generated table has the routes the console calls, with the roles the server declares', () => {
    assert.equal(REQUIRED_ROLES['GET /api/overview'], 'read');
    assert.equal(REQUIRED_ROLES['POST /api/jobs/{id}/retry'], 'operator');
    assert.equal(REQUIRED_ROLES['GET /api/users'], 'admin');
    assert.equal(REQUIRED_ROLES['GET /api/audit'], 'auditor');
    assert.equal(REQUIRED_ROLES['GET /api/auth/methods'], 'public');
    assert.equal(REQUIRED_ROLES['GET /api/entitlement/items/{id}'], 'read');
  });

  test('a role sees what the API would let it do, and nothing it would refuse', () => {
    assert.equal(allowed(['auditor'], 'GET', '/api/jobs'), true, 'auditor ⊇ read');
    assert.equal(allowed(['auditor'], 'POST', '/api/jobs/{id}/retry'), false, 'auditors do not retry');
    assert.equal(allowed(['operator'], 'POST', '/api/jobs/{id}/retry'), true);
    assert.equal(allowed(['admin'], 'POST', '/api/jobs/{id}/retry'), true, 'admin ⊇ operator');
    assert.equal(allowed(['operator'], 'GET', '/api/audit'), false, 'export is auditor or admin');
    assert.equal(allowed(['operator'], 'GET', '/api/users'), false);
    assert.equal(allowed(['approver'], 'GET', '/api/overview'), false, 'process roles imply no read');
    assert.equal(allowed(['requester'], 'GET', '/api/auth/me'), true, 'authenticated');
    assert.equal(allowed([], 'GET', '/api/nothing'), false, 'an operation not in the document is never shown');
    assert.equal(requirementOf('GET', '/api/nothing'), undefined);
  });
});

describe('console: formatting', () => {
  const now = Date.parse('2026-12-02T12:00:00Z');
  test('durations keep the two largest units', () => {
    assert.equal(duration(0), '0 s');
    assert.equal(duration(59_000), '59 s');
    assert.equal(duration(3_600_000 + 5 * 60_000 + 7_000), '1 h 5 min');
    assert.equal(duration(14 * 86_400_000), '14 d');
    assert.equal(duration(86_400_000 + 30_000), '1 d', 'no gap of units: 1 d, not 1 d 30 s');
  });
  test('relative times and deadlines', () => {
    assert.equal(relative('2026-12-02T11:55:00Z', now), '5 min ago');
    assert.equal(relative('2026-12-02T14:00:00Z', now), 'in 2 h');
    assert.equal(relative(null, now), '—');
    assert.equal(relative('garbage', now), '—');
    assert.deepEqual(countdown('2026-12-16T12:00:00Z', now), { text: '14 d left', tone: 'ok' });
    assert.deepEqual(countdown('2026-12-02T18:30:00Z', now), { text: '6 h 30 min left', tone: 'soon' });
    assert.deepEqual(countdown('2026-12-02T11:00:00Z', now), { text: 'overdue by 1 h', tone: 'overdue' });
    assert.deepEqual(countdown(null, now), { text: 'no deadline', tone: 'none' });
  });
  test('dates, words, sparkline points', () => {
    assert.match(dateTime('2026-12-02T12:00:00Z'), /^2026-12-0[12] \d\d:\d\d$/);
    assert.equal(dateTime(undefined), '—');
    assert.equal(words('ticket_open'), 'ticket open');
    assert.equal(sparklinePoints([], 100, 20), '');
    assert.equal(sparklinePoints([0, 2, 1], 100, 20), '0.0,19.0 50.0,1.0 100.0,10.0');
    assert.equal(sparklinePoints([0, 0], 10, 10), '0.0,9.0 10.0,9.0', 'all zero: a flat line at the bottom');
  });
});
