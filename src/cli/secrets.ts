import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { LoadedConfig } from '../config/load.ts';
import { checkpointFile } from '../store/checkpoints.ts';
import { Keyring } from '../store/keys.ts';
import { rotateSecretKey, RotationRefused } from '../store/rotate.ts';
import { withStore } from './store.ts';

/** `ticketloop secrets status` and `ticketloop secrets rotate-key` (store/rotate.ts). */

type Load = (file: string | undefined) => LoadedConfig;

export function registerSecretsCommands(cli: Command, load: Load): void {
  const secrets = cli.command('secrets').description('the secret key and the secrets stored with it');
  const configOption = '--config <file>';
  const configHelp = 'configuration file (default: $TICKETLOOP_CONFIG or ./ticketloop.yaml)';

  secrets
    .command('status')
    .description('which key is in use, whether a rotation is unfinished, how many secrets each key holds')
    .option(configOption, configHelp)
    .action(async (o: { config?: string }) => {
      const { config } = load(o.config);
      await withStore(config, async (store) => {
        const keys = store.keys;
        const state = await store.db.selectFrom('secret_key_state').select('kid').executeTakeFirst();
        const rows = await store.db.selectFrom('secrets').select('ciphertext').execute();
        const byKid = new Map<string, number>();
        for (const r of rows) {
          const kid = Keyring.kidOf(r.ciphertext) ?? '(v1, no key id)';
          byKid.set(kid, (byKid.get(kid) ?? 0) + 1);
        }
        const lines = [
          `key: ${keys.current.kid} (from ${keys.source === 'env' ? 'TICKETLOOP_SECRET_KEY' : keys.keyFile})`,
          `secrets are written with: ${state?.kid ?? '(not recorded yet)'}`,
          keys.previous
            ? `previous key: ${keys.previous.kid} — a rotation is unfinished: run \`ticketloop secrets rotate-key\``
            : 'previous key: none',
          `stored secrets: ${rows.length}${[...byKid].map(([k, n]) => `\n  ${k}: ${n}`).join('')}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });

  secrets
    .command('rotate-key')
    .description('make a new secret key and re-encrypt every stored secret (finishes an interrupted run)')
    .option(configOption, configHelp)
    .option('--force', 'rotate even though the audit log does not verify (recorded in the log)')
    .action(async (o: { config?: string; force?: boolean }) => {
      const { config } = load(o.config);
      try {
        const r = await withStore(config, (store) =>
          rotateSecretKey({
            store,
            now: () => Date.now(),
            actor: `cli:${hostname()}:${process.pid}`,
            checkpoints: config.audit.checkpoints.file ? [checkpointFile(resolve(config.dataDir))] : [],
            force: o.force,
          }),
        );
        process.stdout.write(
          `${r.resumed ? 'finished the interrupted rotation' : 'rotated the secret key'}: ${r.from} → ${r.to}; ` +
            `${r.reencrypted} of ${r.secrets} secret(s) re-encrypted, all readable with the new key\n` +
            (r.auditOk ? '' : 'the audit log did not verify before the rotation (--force); the log records it\n') +
            `${r.todo ?? 'restart every Ticketloop instance (those on this host also pick the new key file up at their next audit checkpoint)'}\n`,
        );
      } catch (e) {
        if (!(e instanceof RotationRefused)) throw e;
        process.stderr.write(`not rotated: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
  secrets.action(() => secrets.help({ error: true }));
}
