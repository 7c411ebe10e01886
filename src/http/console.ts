import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './server.ts';

/**
 * The console: the static build of console/ (Vite, `npm run build` → dist/console) served at `/`.
 * Hashed files under /assets/ are immutable; index.html is revalidated every time and is the answer
 * to any other GET a browser makes outside the API (the console routes on the client). Security
 * headers go on every answer (docs/security.md says why each is what it is).
 */

/** Paths the console never answers: the API, sign-in, machine endpoints. */
const NOT_CONSOLE = /^\/(api|auth|callouts|webhooks)(\/|$)|^\/(openapi\.json|healthz|readyz|metrics)$/;

/**
 * Fluent UI's CSS-in-JS (Griffel) inserts <style> elements at run time, hence 'unsafe-inline' for
 * styles only; scripts are the bundle's own files.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/console beside the package, whether this file runs from src/ (tsx) or dist/src/ (compiled). */
export function defaultConsoleDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const root = resolve(here, here.split(/[\\/]/).includes('dist') ? '../../..' : '../..');
  return join(root, 'dist', 'console');
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ticketloop</title></head>
<body><h1>Ticketloop</h1><p>The console is not built. Run <code>npm run build</code> (or <code>npm run dev</code>
for the development server with hot reload) and reload this page. The API is at <a href="/openapi.json">/openapi.json</a>.</p></body></html>`;

export interface ConsoleServing {
  /** Register the headers hook, the file sender and /assets/*. */
  register(app: App): Promise<void>;
  /** The answer to a GET no route took (createHttpServer's `page`): index.html, unless it is not a page. */
  page(req: FastifyRequest, reply: FastifyReply): boolean;
}

export function consoleServing(dir = defaultConsoleDir()): ConsoleServing {
  // Looked at once: a build made while the service runs is served after a restart.
  const built = existsSync(join(dir, 'index.html'));
  return {
    async register(app) {
      app.addHook('onSend', async (_req, reply) => {
        reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
        reply.header('x-content-type-options', 'nosniff');
        reply.header('referrer-policy', 'no-referrer');
        reply.header('x-frame-options', 'DENY');
      });
      if (built) await app.register(fastifyStatic, { root: dir, serve: false, index: false });
      app.get(
        '/assets/*',
        { config: { role: 'public' }, schema: { hide: true } },
        async (req: FastifyRequest<{ Params: { '*': string } }>, reply) => {
          if (!built) return reply.callNotFound();
          // Vite names every file by its content hash: a new build is new names, so these never change.
          return reply.sendFile(`assets/${req.params['*']}`, { maxAge: '365d', immutable: true });
        },
      );
    },
    page(req, reply) {
      const path = req.url.split('?')[0];
      if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_CONSOLE.test(path)) return false;
      if (!String(req.headers.accept ?? '').includes('text/html')) return false;
      reply.header('cache-control', 'no-cache');
      if (!built) {
        void reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
        return true;
      }
      void reply.sendFile('index.html', { cacheControl: false });
      return true;
    },
  };
}
