/**
 * Ticketloop's OpenAPI document without a server: the app built in-process on embedded defaults with
 * every module loaded, never listening (so every route is in it), and the role each operation needs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTicketloop, createLogger } from '../src/app/build.ts';
import { validateConfig } from '../src/app/config.ts';
import { FLOW_MODULES, ITSM_MODULES } from '../src/app/registry.ts';

type Operation = { 'x-required-role'?: string };

export async function dumpOpenapi(): Promise<Record<string, any>> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-openapi-'));
  try {
    const config = validateConfig({ dataDir: dir, server: { host: '127.0.0.1', port: 0 } }, 'embedded defaults');
    const app = await buildTicketloop(config, {
      logger: createLogger('silent'),
      itsm: ITSM_MODULES,
      flows: FLOW_MODULES,
      engine: false,
    });
    try {
      await app.http.ready();
      return JSON.parse(JSON.stringify(app.http.swagger())) as Record<string, any>;
    } finally {
      await app.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `GET /api/jobs` → `read`, for every operation that declares a role. */
export function requiredRoles(doc: Record<string, any>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, ops] of Object.entries(doc.paths ?? {}) as [string, Record<string, Operation>][])
    for (const [method, op] of Object.entries(ops))
      if (op?.['x-required-role']) out[`${method.toUpperCase()} ${path}`] = op['x-required-role'];
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}
