import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import layers from './eslint/layers.js';

/**
 * Who may import whom (drawn in docs/architecture.md). The core decides and imports nothing;
 * adapters (stripe, ledger) know the core; the use cases (app) join them; the CLI and the library
 * entry only talk to the use cases; the web console is an edge like the CLI (which starts it).
 */
export const LAYERS = {
  entry: { paths: ['src/index'], mayImport: ['app', 'core', 'shared'] },
  cli: { paths: ['src/cli/'], mayImport: ['app', 'console', 'core', 'shared'] },
  console: { paths: ['src/console/'], mayImport: ['app', 'core', 'shared'] },
  app: { paths: ['src/app/'], mayImport: ['core', 'plan', 'stripe', 'ledger', 'simulator', 'shared'] },
  stripe: { paths: ['src/stripe/'], mayImport: ['core', 'shared'] },
  ledger: { paths: ['src/ledger/'], mayImport: ['core', 'plan', 'shared'] },
  plan: { paths: ['src/plan/'], mayImport: ['core'] },
  core: { paths: ['src/reconcile/'], mayImport: [] },
  shared: { paths: ['src/config', 'src/errors', 'src/when'], mayImport: ['core'] },
  simulator: { paths: ['src/simulator/'], mayImport: ['shared'] },
};

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    plugins: { layers },
    rules: {
      'layers/layers': ['error', { root: import.meta.dirname, layers: LAYERS }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/simulator/**'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  {
    // Kysely's own advice: a migration must not depend on today's schema types, so it takes Kysely<any>.
    files: ['src/ledger/migrations/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
