/**
 * The floor for callout ingest: a bare Fastify 5 handler doing one better-sqlite3 insert per request
 * (WAL, synchronous=NORMAL) and answering 202 — what any durable intake on this machine costs at least.
 * No auth, no validation, no flow. Runs in its own process; prints `{"port": N}` and lives until stdin closes.
 *
 *   child: node --import tsx bench/harness/floor-server.ts <sqlite file>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export async function startFloor(file: string): Promise<{ url: string; child: ChildProcess; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, file], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`floor server exited (${c})`)));
  });
  const { port } = JSON.parse(line) as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    close: () =>
      new Promise<void>((r) => {
        child.once('exit', () => r());
        child.stdin!.end();
      }),
  };
}

async function run(file: string): Promise<void> {
  const { default: Database } = await import('better-sqlite3');
  const { default: Fastify } = await import('fastify');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('create table if not exists callouts (id text primary key, body text not null, at integer not null)');
  const insert = db.prepare('insert or ignore into callouts (id, body, at) values (?, ?, ?)');
  const app = Fastify({ logger: false });
  app.post('/callouts', async (req, reply) => {
    const b = req.body as { CustomExtensionStageInstanceId?: string };
    insert.run(String(b?.CustomExtensionStageInstanceId ?? ''), JSON.stringify(b), Date.now());
    return reply.code(202).send({ status: 'accepted', id: b?.CustomExtensionStageInstanceId });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const a = app.server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void app.close().then(() => (db.close(), process.exit(0))));
}

if (import.meta.filename === process.argv[1]) await run(process.argv[2]);
