// ESLint (flat config): typescript-eslint's recommended rules (not the type-checked set: it stays fast),
// with the style rules that Prettier owns turned off by eslint-config-prettier.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'data/',
      '.sandbox/',
      'bench/results/',
      'test-results/',
      // generated from /openapi.json (scripts/console-api.ts)
      'console/src/api/schema.d.ts',
      'console/src/api/roles.gen.ts',
      // pasted into ServiceNow (its own globals and script engine)
      'docs/servicenow-business-rule.js',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    rules: {
      // The code talks to loosely typed vendor APIs; `any` is a smell, not an error.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'none',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // The console runs in the browser (its build script, vite.config.ts, in Node).
    files: ['console/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  prettier,
);
