// Flat config. The rule that matters most: src/core imports no adapter.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ADAPTERS = ['@slack/*', 'botbuilder', 'botbuilder-*', 'bullmq', 'knex', 'pg', 'pg-*', 'mysql2', 'mysql2/*', 'ioredis', 'express', 'pino', 'better-sqlite3'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly', URL: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ADAPTERS, message: 'src/core is the pure domain: it imports no adapter. Define a port in core/ports.ts.' },
            { group: ['../*', '!../core'], message: 'src/core imports nothing outside src/core.' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'src/cli/demo*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
