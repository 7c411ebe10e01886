/**
 * Access control as /openapi.json declares it: every `/api/` operation is called with no
 * credential and with a token of each role, and must answer 401 / 403 / neither exactly as its
 * `x-required-role` says. Plus: a route that declares no role stops the start.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTicketloop, createLogger, type Ticketloop } from '../../src/app/build.ts';
import { validateConfig } from '../../src/app/config.ts';
import type { FlowModule } from '../../src/app/module.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../../src/app/registry.ts';
import { ROLES, satisfies, type Requirement, type Role } from '../../src/identity/roles.ts';
import { tokenFor } from '../helpers/identity.ts';

type Operation = { 'x-required-role'?: Requirement; requestBody?: unknown; security?: unknown[]; description?: string };

const build = (dir: string, flows: FlowModule[]) =>
  buildTicketloop(validateConfig({ dataDir: dir, server: { host: '127.0.0.1', port: 0 } }, 'test'), {
    logger: createLogger('silent'),
    itsm: ITSM_MODULES,
    flows,
    engine: false,
  });

describe('every /api/ operation answers as its declared role says', () => {
  let dir: string;
  let app: Ticketloop;
  let paths: Record<string, Record<string, Operation>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-access-'));
    app = await build(dir, FLOW_MODULES);
    paths = (await app.http.inject({ method: 'GET', url: '/openapi.json' })).json().paths;
  });
  after(async () => {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each /api/ route is in /openapi.json with x-required-role, a description line and security', () => {
    const documented = Object.entries(paths)
      .filter(([p]) => p.startsWith('/api/'))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const declared = app.apiRoutes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    assert.deepEqual(documented.sort(), declared.sort());
    for (const [p, ops] of Object.entries(paths).filter(([p]) => p.startsWith('/api/')))
      for (const [m, op] of Object.entries(ops)) {
        const role = op['x-required-role'];
        assert.ok(role, `${m} ${p} has x-required-role`);
        assert.match(op.description ?? '', role === 'public' ? /No sign-in/ : /Requires role|Any signed-in/);
        assert.deepEqual(op.security?.length, role === 'public' ? 0 : 2, `${m} ${p} security`);
      }
    const doc = app.http.swagger() as { components: { securitySchemes: Record<string, unknown> } };
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearerToken', 'csrfToken', 'sessionCookie']);
  });

  test('no credential → 401 (public routes excepted); each role → 403 or through, by the declared role', async () => {
    const tokens = Object.fromEntries(await Promise.all(ROLES.map(async (r) => [r, await tokenFor(app, r)] as const)));
    const rows: string[] = [];
    const failures: string[] = [];
    for (const [template, ops] of Object.entries(paths).filter(([p]) => p.startsWith('/api/'))) {
      // Ids nobody has and names nothing is called: the calls reach the handlers and change nothing.
      const url = template.replace(/\{id\}/g, randomUUID()).replace(/\{\w+\}/g, 'no-such-thing');
      for (const [method, op] of Object.entries(ops)) {
        const need = op['x-required-role']!;
        const call = async (token?: string) =>
          (
            await app.http.inject({
              method: method.toUpperCase() as 'GET',
              url,
              headers: token ? { authorization: `Bearer ${token}` } : {},
              ...(op.requestBody ? { payload: {} } : {}),
            })
          ).statusCode;
        const verdict = (status: number) =>
          status >= 500 ? `${status}!` : status === 401 ? '401' : status === 403 ? '403' : 'in';
        const anonymous = verdict(await call());
        const wantAnonymous = need === 'public' ? 'in' : '401';
        if (anonymous !== wantAnonymous)
          failures.push(`${method} ${template} anonymous: ${anonymous}, want ${wantAnonymous}`);
        const cells = [`${method.toUpperCase()} ${template} [${need}] anon:${anonymous}`];
        for (const role of ROLES) {
          const got = verdict(await call(tokens[role]));
          const want = satisfies([role as Role], need) ? 'in' : '403';
          if (got !== want) failures.push(`${method} ${template} as ${role}: ${got}, want ${want}`);
          cells.push(`${role}:${got}`);
        }
        rows.push(cells.join(' '));
      }
    }
    assert.deepEqual(failures, [], rows.join('\n'));
    if (process.env.SHOW_ACCESS_TABLE) console.log(rows.join('\n'));
    assert.ok(rows.length >= 25, `${rows.length} operations`);
  });

  test('the hierarchy: admin ⊇ operator ⊇ read, auditor = read + audit export; process roles never implied', () => {
    const can = (r: Role) =>
      (['admin', 'operator', 'read', 'auditor'] as Requirement[]).filter((n) => satisfies([r], n));
    assert.deepEqual(can('admin'), ['admin', 'operator', 'read', 'auditor']);
    assert.deepEqual(can('operator'), ['operator', 'read']);
    assert.deepEqual(can('auditor'), ['read', 'auditor']);
    assert.deepEqual(can('approver'), []);
    assert.equal(satisfies(['admin'], 'approver'), false, 'an admin does not approve access by being admin');
  });

  test('an unknown /api/ path is 401 without a credential and 404 with one (no route enumeration)', async () => {
    assert.equal((await app.http.inject({ url: '/api/nothing-here' })).statusCode, 401);
    const token = await tokenFor(app, 'auditor');
    const r = await app.http.inject({ url: '/api/nothing-here', headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.statusCode, 404);
    assert.equal((await app.http.inject({ url: '/%61pi/jobs' })).statusCode, 401, 'percent-encoded /api/ too');
  });
});

test('a route under /api/ without a declared role stops the start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-norole-'));
  const rogue: FlowModule = {
    name: 'rogue',
    flow: { name: 'rogue', decide: () => null },
    effects: () => ({}),
    register(app) {
      app.http.get('/api/rogue', async () => ({ open: true }));
    },
  };
  try {
    await assert.rejects(build(dir, [rogue]), /route GET \/api\/rogue declares no role/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
