import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';

/**
 * Ticketloop's own files (database, WAL, logs) hold tickets, audit rows and encrypted secrets:
 * directories 0700, files 0600. Modes given at creation are reduced by the umask, so each is
 * chmod-ed afterwards as well — whatever the umask, the result is the same.
 */

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Create the file (empty) if it does not exist, and make it owner-only either way. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** Owner-only for those of `files` that exist now (e.g. SQLite's -wal and -shm). */
export function restrictExisting(files: string[]): void {
  for (const f of files) if (existsSync(f)) chmodSync(f, 0o600);
}
