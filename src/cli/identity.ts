import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { moduleMigrations } from '../app/build.ts';
import { FLOW_MODULES } from '../app/registry.ts';
import type { LoadedConfig } from '../config/load.ts';
import { systemClock } from '../engine/clock.ts';
import { Identity } from '../identity/identity.ts';
import { isRole, ROLES, type Role } from '../identity/roles.ts';
import { IdentityError } from '../identity/users.ts';
import { openStore } from '../store/db.ts';
import { migrateToLatest } from '../store/migrations.ts';

/**
 * `ticketloop users add|list|disable|enable|reset-password` and `ticketloop tokens
 * create|list|revoke`, straight against the database: whoever can run them on the host can read the
 * configuration and the data directory anyway. Actions are audited as `cli:<os user>`. Generated
 * passwords and new tokens are printed once.
 */

type Load = (file: string | undefined) => LoadedConfig;

const actor = () => `cli:${userInfo().username}`;

function rolesArg(value: string, previous: Role[] = []): Role[] {
  const given = value.split(',').map((r) => r.trim().toLowerCase());
  const bad = given.filter((r) => !isRole(r));
  if (bad.length) throw new InvalidArgumentError(`unknown role ${bad.join(', ')} (roles: ${ROLES.join(', ')})`);
  return [...new Set([...previous, ...(given as Role[])])];
}

function daysArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw new InvalidArgumentError('--days must be a whole number 1-3650');
  return n;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

const newPassword = () => randomBytes(18).toString('base64url');

function table(rows: Record<string, unknown>[]): string {
  if (!rows.length) return '(none)';
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]))
      .join('  ')
      .trimEnd();
  return [
    line(cols),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => String(r[c] ?? '')))),
  ].join('\n');
}

export function registerIdentityCommands(cli: Command, load: Load): void {
  const withConfig = (c: Command) =>
    c.option('--config <file>', 'configuration file (default: $TICKETLOOP_CONFIG or ./ticketloop.yaml)');

  /** Open the store (migrated), run, close; an IdentityError is a one-line failure (exit 1). */
  async function run(file: string | undefined, work: (identity: Identity) => Promise<void>): Promise<void> {
    const { config } = load(file);
    const store = await openStore({ databaseUrl: config.database.url, dataDir: resolve(config.dataDir) });
    try {
      await migrateToLatest(store, moduleMigrations(FLOW_MODULES));
      await work(new Identity({ db: store.db, keys: store.keys, clock: systemClock, config: config.identity }));
    } catch (e) {
      if (!(e instanceof IdentityError)) throw e;
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 1;
    } finally {
      await store.close();
    }
  }

  const users = cli.command('users').description('local accounts and their roles');
  withConfig(users.command('add').description('create a local account; prints a generated password once'))
    .argument('<name>', 'sign-in name (lower case)')
    .requiredOption('--role <roles>', `role(s), repeatable or comma-separated (${ROLES.join(', ')})`, rolesArg)
    .option('--display-name <text>', 'the name shown')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .action(
      async (name: string, o: { config?: string; role: Role[]; displayName?: string; passwordStdin?: boolean }) => {
        await run(o.config, async (identity) => {
          const password = o.passwordStdin ? await readStdin() : newPassword();
          const user = await identity.users.create(
            { name, displayName: o.displayName, password, roles: o.role },
            actor(),
          );
          process.stdout.write(`created ${user.name} (${user.roles.join(', ')})\n`);
          if (!o.passwordStdin)
            process.stdout.write(`password: ${password}\n(shown once; change it with users reset-password)\n`);
        });
      },
    );
  withConfig(users.command('list').description('every user with roles and state')).action(
    async (o: { config?: string }) => {
      await run(o.config, async (identity) => {
        const rows = (await identity.users.list()).map((u) => ({
          name: u.name,
          source: u.source,
          roles: u.roles.join(','),
          state: u.disabled ? 'disabled' : u.lockedUntil ? `locked until ${u.lockedUntil}` : 'active',
          last_sign_in: u.lastSignInAt ?? '',
        }));
        process.stdout.write(`${table(rows)}\n`);
      });
    },
  );
  for (const [command, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const)
    withConfig(
      users
        .command(command)
        .description(disabled ? 'stop a user signing in (ends their sessions)' : 'let a user sign in again'),
    )
      .argument('<name>', 'the user')
      .action(async (name: string, o: { config?: string }) => {
        await run(o.config, async (identity) => {
          const u = await identity.users.find(name);
          await identity.users.update(u.id, { disabled }, actor());
          process.stdout.write(`${u.name} ${disabled ? 'disabled' : 'enabled'}\n`);
        });
      });
  withConfig(
    users.command('reset-password').description('set a new password (generated unless --password-stdin); unlocks'),
  )
    .argument('<name>', 'the user')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, o: { config?: string; passwordStdin?: boolean }) => {
      await run(o.config, async (identity) => {
        const u = await identity.users.find(name);
        const password = o.passwordStdin ? await readStdin() : newPassword();
        await identity.users.update(u.id, { password }, actor());
        process.stdout.write(`new password set for ${u.name}; their sessions ended\n`);
        if (!o.passwordStdin) process.stdout.write(`password: ${password}\n(shown once)\n`);
      });
    });

  const tokens = cli.command('tokens').description('API tokens for scripts and CI (Authorization: Bearer)');
  withConfig(tokens.command('create').description('create a token; prints it once'))
    .argument('<name>', 'a name for the token (a-z 0-9 . _ -)')
    .option('--role <roles>', `role(s), repeatable or comma-separated (default for --user: all of theirs)`, rolesArg)
    .option('--user <name>', "a personal token of this user (default: a service token, no user's)")
    .option('--days <n>', 'valid for this many days (default identity.tokens.defaultDays)', daysArg)
    .action(async (name: string, o: { config?: string; role?: Role[]; user?: string; days?: number }) => {
      await run(o.config, async (identity) => {
        const owner = o.user ? await identity.users.find(o.user) : undefined;
        if (!owner && !o.role) throw new IdentityError('invalid', 'a service token needs --role (or give --user)');
        const created = await identity.tokens.create(
          { kind: owner ? 'personal' : 'service', name, roles: o.role, days: o.days, owner },
          actor(),
        );
        const v = created.view;
        process.stdout.write(`created ${v.kind} token ${v.name} (${v.roles.join(', ')}), expires ${v.expiresAt}\n`);
        process.stdout.write(`${created.token}\n(shown once: store it now)\n`);
      });
    });
  withConfig(tokens.command('list').description('every token (never its value)')).action(
    async (o: { config?: string }) => {
      await run(o.config, async (identity) => {
        const rows = (await identity.tokens.list()).map((t) => ({
          id: t.id,
          name: t.name,
          kind: t.kind,
          roles: t.roles.join(','),
          expires: t.expiresAt,
          state: t.revokedAt ? 'revoked' : t.active ? 'active' : 'expired',
          last_used: t.lastUsedAt ?? '',
        }));
        process.stdout.write(`${table(rows)}\n`);
      });
    },
  );
  withConfig(tokens.command('revoke').description('revoke a token at once'))
    .argument('<token>', 'its id or name')
    .action(async (which: string, o: { config?: string }) => {
      await run(o.config, async (identity) => {
        const t = await identity.tokens.find(which);
        await identity.tokens.revoke(t.id, actor());
        process.stdout.write(`revoked ${t.name}\n`);
      });
    });

  for (const group of [users, tokens]) group.action(() => group.help({ error: true }));
}
