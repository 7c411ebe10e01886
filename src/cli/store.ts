import { resolve } from 'node:path';
import { moduleMigrations } from '../app/build.ts';
import { FLOW_MODULES } from '../app/registry.ts';
import type { Config } from '../config/schema.ts';
import { openStore, type Store } from '../store/db.ts';
import { migrateToLatest } from '../store/migrations.ts';

/** The store of a one-shot command (migrated), closed when `fn` is done. */
export async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ databaseUrl: config.database.url, dataDir: resolve(config.dataDir) });
  try {
    await migrateToLatest(store, moduleMigrations(FLOW_MODULES));
    return await fn(store);
  } finally {
    await store.close();
  }
}
