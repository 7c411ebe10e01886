import type { Ticketloop } from '../../src/app/build.ts';
import type { Role } from '../../src/identity/roles.ts';

/**
 * Credentials for tests: a service token or a local user holding given roles, and a browser-like
 * sign-in that returns the session cookie and CSRF token.
 */

let made = 0;

/** A new service token with these roles (default: admin). */
export async function tokenFor(app: Ticketloop, roles: Role | Role[] = 'admin', days?: number): Promise<string> {
  const list = [roles].flat();
  const { token } = await app.identity.tokens.create(
    { kind: 'service', name: `test-${list.join('-')}-${++made}`, roles: list, days },
    'test',
  );
  return token;
}

/** `{authorization: Bearer …}` for a new token with these roles. */
export async function authFor(app: Ticketloop, roles: Role | Role[] = 'admin'): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await tokenFor(app, roles)}` };
}

/** A new local user with these roles and a password. */
export async function userFor(
  app: Ticketloop,
  roles: Role | Role[],
  password = 'correct horse battery staple',
): Promise<{ id: string; name: string; password: string }> {
  const user = await app.identity.users.create(
    { name: `user-${[roles].flat().join('-')}-${++made}`, password, roles: [roles].flat() },
    'test',
  );
  return { id: user.id, name: user.name, password };
}

/** Sign in over HTTP; the session cookie (`name=value`) and the CSRF token to echo. */
export async function signIn(url: string, name: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  if (r.status !== 200) throw new Error(`sign-in as ${name}: ${r.status} ${await r.text()}`);
  const body = (await r.json()) as { csrfToken: string };
  const cookie = r.headers.getSetCookie().find((c) => c.includes('tl_session='));
  if (!cookie) throw new Error('no session cookie');
  return { cookie: cookie.split(';')[0], csrf: body.csrfToken };
}
