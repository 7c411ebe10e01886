import { createHmac, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Kysely } from 'kysely';
import type { Keyring } from './keys.ts';
import type { Database } from './schema.ts';

/**
 * Signed checkpoints of the audit chain, kept outside the database: one JSON line per checkpoint,
 * appended (O_APPEND, mode 0600) to `dataDir/audit-checkpoints.log` and, if configured, written to
 * standard output for log shipping. A checkpoint names a row and its MAC; since that MAC vouches
 * for every earlier row, a database whose chain ends before a checkpoint's row, or differs at it,
 * was cut or rewritten. Several processes may append to one file: every checkpoint is checked on
 * its own against the row it names, so their order in the file does not matter.
 */

export const CHECKPOINT_FILE = 'audit-checkpoints.log';
export const checkpointFile = (dataDir: string) => join(dataDir, CHECKPOINT_FILE);

export interface AuditCheckpoint {
  type: 'audit-checkpoint';
  v: 1;
  seq: number;
  /** The MAC of row `seq`. */
  head: string;
  at: string;
  /** The process that wrote it (host:pid). */
  by: string;
  /** The audit key `mac` is made with. */
  kid: string;
  /** HMAC-SHA256 over [seq, head, at, by]. */
  mac: string;
}

const LABEL = 'ticketloop audit checkpoint v1\n';

function checkpointMac(key: Buffer, c: Pick<AuditCheckpoint, 'seq' | 'head' | 'at' | 'by'>): string {
  return createHmac('sha256', key)
    .update(LABEL)
    .update(JSON.stringify([c.seq, c.head, c.at, c.by]))
    .digest('hex');
}

/** A checkpoint of the chain's head as committed now; undefined while there is nothing keyed to name. */
export async function takeCheckpoint(
  db: Kysely<Database>,
  keys: Keyring,
  now: number,
  by: string,
): Promise<AuditCheckpoint | undefined> {
  const head = await db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirst();
  const seq = Number(head?.seq ?? 0);
  if (!seq) return undefined;
  const row = await db.selectFrom('audit_log').select('mac').where('seq', '=', seq).executeTakeFirst();
  if (!row?.mac) return undefined; // a legacy head or a broken chain: `audit verify` says which
  const key = keys.auditKey()!;
  const c = { seq, head: row.mac, at: new Date(now).toISOString(), by };
  return { type: 'audit-checkpoint', v: 1, ...c, kid: key.kid, mac: checkpointMac(key.key, c) };
}

export async function appendCheckpoint(file: string, c: AuditCheckpoint): Promise<void> {
  const fh = await open(file, 'a', 0o600);
  try {
    await fh.chmod(0o600);
    await fh.write(`${JSON.stringify(c)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface CheckpointsRead {
  /** The checkpoint per row (two that disagree about a row are a `problem`). */
  bySeq: Map<number, AuditCheckpoint>;
  read: number;
  /** Checkpoints signed with a key this process does not hold (compared all the same). */
  unverified: number;
  /** The one naming the highest row. */
  last?: AuditCheckpoint;
  /** Lines that are not checkpoints (`file:line`). */
  damaged: string[];
  problem?: string;
}

function parse(line: string): AuditCheckpoint | undefined {
  try {
    const c = JSON.parse(line) as AuditCheckpoint;
    const ok =
      c?.type === 'audit-checkpoint' &&
      c.v === 1 &&
      Number.isSafeInteger(c.seq) &&
      c.seq > 0 &&
      [c.head, c.at, c.by, c.kid, c.mac].every((f) => typeof f === 'string');
    return ok ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Read checkpoint files (those that exist); a checkpoint whose MAC fails is a problem. */
export async function readCheckpoints(files: string[], keys: Keyring): Promise<CheckpointsRead> {
  const out: CheckpointsRead = { bySeq: new Map(), read: 0, unverified: 0, damaged: [] };
  for (const file of files) {
    if (!existsSync(file)) continue;
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      const c = parse(line);
      if (!c) {
        // A line cut short by a crash (or a full disk); counted, not fatal: it names no row.
        out.damaged.push(`${file}:${n}`);
        continue;
      }
      out.read++;
      const key = keys.auditKey(c.kid);
      if (!key) out.unverified++;
      else {
        const want = Buffer.from(checkpointMac(key.key, c));
        const got = Buffer.from(c.mac);
        if (want.length !== got.length || !timingSafeEqual(want, got))
          out.problem ??= `${file}:${n}: the checkpoint's MAC does not match (forged or altered)`;
      }
      const seen = out.bySeq.get(c.seq);
      if (seen && seen.head !== c.head)
        out.problem ??= `the checkpoints of ${seen.at} and ${c.at} disagree about row ${c.seq}: the chain was rewritten between them`;
      if (!seen) out.bySeq.set(c.seq, c);
      if (!out.last || c.seq > out.last.seq) out.last = c;
    }
  }
  return out;
}

export interface CheckpointConfig {
  file: boolean;
  stdout: boolean;
  everySeconds: number;
}

export interface CheckpointerOptions {
  db: Kysely<Database>;
  keys: Keyring;
  now: () => number;
  by: string;
  dataDir: string;
  config: CheckpointConfig;
  log?: { warn(obj: object, msg: string): void };
  /** Where `stdout: true` writes (tests catch it here). */
  stdout?: (line: string) => void;
}

/** Writes a checkpoint at start, every `everySeconds` when the chain has grown, and at stop. */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private lastSeq = 0;
  private running: Promise<AuditCheckpoint | undefined> = Promise.resolve(undefined);

  constructor(private readonly o: CheckpointerOptions) {}

  get enabled(): boolean {
    return this.o.config.file || this.o.config.stdout;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    void this.checkpoint();
    this.timer = setInterval(() => void this.checkpoint(), this.o.config.everySeconds * 1000);
    this.timer.unref();
  }

  /** One checkpoint now (none when the chain has not grown since this process's last one). */
  checkpoint(): Promise<AuditCheckpoint | undefined> {
    this.running = this.running.then(() => this.write().catch((e) => this.failed(e)));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled) await this.checkpoint();
  }

  private async write(): Promise<AuditCheckpoint | undefined> {
    if (!this.enabled) return undefined;
    // A key rotated by `secrets rotate-key` on this host is picked up here, within one interval.
    this.o.keys.reload();
    const c = await takeCheckpoint(this.o.db, this.o.keys, this.o.now(), this.o.by);
    if (!c || c.seq === this.lastSeq) return undefined;
    if (this.o.config.file) await appendCheckpoint(checkpointFile(this.o.dataDir), c);
    if (this.o.config.stdout) (this.o.stdout ?? ((l) => process.stdout.write(l)))(`${JSON.stringify(c)}\n`);
    this.lastSeq = c.seq;
    return c;
  }

  private failed(e: unknown): undefined {
    // A full disk or a database hiccup must not stop the service; the next tick tries again.
    this.o.log?.warn({ err: (e as Error).message }, 'could not write an audit checkpoint');
    return undefined;
  }
}
