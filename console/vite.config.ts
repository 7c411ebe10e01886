import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The console's build (`npm run build` → dist/console, served by Ticketloop at `/`) and its
 * development server (`npm run dev`: hot reload, /api and /auth proxied to a running Ticketloop at
 * TICKETLOOP_URL, by default the demo's address).
 */
const target = process.env.TICKETLOOP_URL ?? 'http://127.0.0.1:8080';
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // Ticketloop serves /assets/* as immutable: every file there is named by its content hash.
    assetsDir: 'assets',
    // The CSP allows no inline script: never inline the module-preload polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 900,
    reportCompressedSize: false,
  },
  server: {
    port: 5173,
    strictPort: false,
    // The shared role definitions live in src/identity/roles.ts, outside this folder.
    fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] },
    proxy: {
      '/api': { target, changeOrigin: false },
      '/auth': { target, changeOrigin: false },
      '/openapi.json': { target },
    },
  },
});
