import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { LoadedConfig } from '../config/load.ts';
import { exportAudit } from '../store/audit.ts';
import { verifyAudit, type AuditVerifyResult } from '../store/audit-verify.ts';
import { checkpointFile } from '../store/checkpoints.ts';
import { withStore } from './store.ts';

/**
 * `ticketloop audit verify` (the chain, its MACs, the checkpoints) and `ticketloop audit export`
 * (JSON Lines for a SIEM: one object per row).
 */

type Load = (file: string | undefined) => LoadedConfig;

const collect = (v: string, all: string[]) => [...all, v];

export function summary(r: AuditVerifyResult): string {
  const c = r.checkpoints;
  const against = c.read
    ? `checked against ${c.read} checkpoint(s), the last at row ${c.lastSeq} (${c.lastAt})${c.unverified ? `, ${c.unverified} signed with a key not held here` : ''}`
    : 'no checkpoints yet: a cut-off tail cannot be detected';
  const legacy = r.legacyRows ? `; ${r.legacyRows} legacy row(s) from before the chain was keyed` : '';
  const damaged = c.damaged ? `; ${c.damaged} damaged checkpoint line(s) skipped` : '';
  return `${r.rows} rows, hash chain and MACs intact; ${against}${legacy}${damaged}`;
}

export function registerAuditCommands(cli: Command, load: Load): void {
  const audit = cli.command('audit').description('the audit log');
  audit
    .command('verify')
    .description("check the audit log's chain, its MACs and the signed checkpoints")
    .option('--config <file>', 'configuration file (default: $TICKETLOOP_CONFIG or ./ticketloop.yaml)')
    .option(
      '--checkpoints <file>',
      'also check against this checkpoint file (e.g. shipped copies; repeatable)',
      collect,
      [],
    )
    .action(async (o: { config?: string; checkpoints: string[] }) => {
      const { config } = load(o.config);
      const files = [checkpointFile(resolve(config.dataDir)), ...o.checkpoints.map((f) => resolve(f))];
      const r = await withStore(config, (store) => verifyAudit(store.db, store.keys, { checkpoints: files }));
      if (r.ok) {
        process.stdout.write(`audit log OK: ${summary(r)}\n`);
        return;
      }
      const missing = r.missing ? `\nmissing rows: ${r.missing.from}..${r.missing.to}` : '';
      process.stderr.write(`audit log FAILED verification: ${r.problem} (after ${r.rows} good rows)${missing}\n`);
      process.exitCode = 1;
    });
  audit
    .command('export')
    .description('write the audit log as JSON Lines (seq, at, kind, actor, subject, detail, hash, mac)')
    .option('--config <file>', 'configuration file (default: $TICKETLOOP_CONFIG or ./ticketloop.yaml)')
    .option('--since <seq>', 'from this row on (default 1)', (v) => {
      if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('--since must be a row number (1 or more)');
      return v;
    })
    .option('--out <file>', 'write here (mode 0600) instead of standard output')
    .action(async (o: { config?: string; since?: string; out?: string }) => {
      const { config } = load(o.config);
      const out = o.out ? createWriteStream(resolve(o.out), { mode: 0o600 }) : process.stdout;
      const n = await withStore(config, async (store) => {
        let rows = 0;
        for await (const row of exportAudit(store.db, Number(o.since ?? 1))) {
          if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
          rows++;
        }
        return rows;
      });
      if (o.out) {
        const file = out as ReturnType<typeof createWriteStream>;
        file.end();
        await once(file, 'finish');
        process.stderr.write(`${n} row(s) written to ${o.out}\n`);
      }
    });
  audit.action(() => audit.help({ error: true }));
}
