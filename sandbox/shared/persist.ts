import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A sandbox service's state: JSON documents by (collection, id) in one SQLite file, so the
 * sandbox keeps its tickets, requests and assessments across restarts. Synchronous on purpose:
 * handlers stay simple and each write is durable before the response goes out.
 */
export class DocStore {
  readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS docs (
      coll TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
      PRIMARY KEY (coll, id))`);
    this.db.exec(`CREATE INDEX IF NOT EXISTS docs_coll_seq ON docs (coll, seq)`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
    this.stmts = {
      get: this.db.prepare('SELECT body FROM docs WHERE coll = ? AND id = ?'),
      put: this.db.prepare(
        `INSERT INTO docs (coll, id, seq, body) VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM docs WHERE coll = ?), ?)
         ON CONFLICT (coll, id) DO UPDATE SET body = excluded.body`,
      ),
      del: this.db.prepare('DELETE FROM docs WHERE coll = ? AND id = ?'),
      all: this.db.prepare('SELECT body FROM docs WHERE coll = ? ORDER BY seq'),
      count: this.db.prepare('SELECT COUNT(*) AS n FROM docs WHERE coll = ?'),
      next: this.db.prepare(
        `INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
      ),
    };
  }

  get<T>(coll: string, id: string): T | undefined {
    const row = this.stmts.get.get(coll, id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as T) : undefined;
  }

  put<T>(coll: string, id: string, doc: T): T {
    this.stmts.put.run(coll, id, coll, JSON.stringify(doc));
    return doc;
  }

  delete(coll: string, id: string): boolean {
    return this.stmts.del.run(coll, id).changes > 0;
  }

  /** All documents of a collection in insertion order (iterated lazily). */
  *iterate<T>(coll: string): IterableIterator<T> {
    for (const row of this.stmts.all.iterate(coll) as IterableIterator<{ body: string }>)
      yield JSON.parse(row.body) as T;
  }

  list<T>(coll: string): T[] {
    return [...this.iterate<T>(coll)];
  }

  count(coll: string): number {
    return (this.stmts.count.get(coll) as { n: number }).n;
  }

  /** A persistent counter (ticket numbers); the first value returned is `start`. */
  nextCounter(name: string, start = 1): number {
    return (this.stmts.next.get(name, start) as { value: number }).value;
  }

  /** Run several writes atomically (and much faster than one by one). */
  transaction<R>(fn: () => R): R {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }
}
