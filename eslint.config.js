// Flat config. The rules that matter most: src/core imports no adapter, src/chat no store, target or on-call module,
// and src/ imports nothing from dev/ or test/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The production tree compiles on its own (tsconfig.build.json, the image): test doubles, the demo and tests stay out.
const NOT_PRODUCT = {
  regex: '^(\\.\\./)+(dev|test)(/|$)',
  message: 'src/ is the product: it imports nothing from dev/ or test/.',
};

// The chat adapters talk to the core only: the state store, the targets and the on-call sources are reached through
// the core's ports (core/ports.ts), wired together in src/app.ts.
const CHAT_BYPASS = {
  regex: '^(\\.\\./)+(store|targets|oncall)(/|$)',
  message: 'src/chat imports no store, target or on-call module: use the core (a port in core/ports.ts).',
};

const ADAPTERS = [
  '@slack/*',
  'botbuilder',
  'botbuilder-*',
  'bullmq',
  'knex',
  'pg',
  'pg-*',
  'mysql2',
  'mysql2/*',
  'ioredis',
  'express',
  'pino',
  'better-sqlite3',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        NodeJS: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_PRODUCT] }] },
  },
  {
    // Replaces the src/** rule above for the core (a later config's options win), so it repeats NOT_PRODUCT.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ADAPTERS,
              message: 'src/core is the pure domain: it imports no adapter. Define a port in core/ports.ts.',
            },
            { group: ['../*', '!../core'], message: 'src/core imports nothing outside src/core.' },
            NOT_PRODUCT,
          ],
        },
      ],
    },
  },
  {
    // Replaces the src/** rule above for the chat adapters, so it repeats NOT_PRODUCT.
    files: ['src/chat/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [CHAT_BYPASS, NOT_PRODUCT] }] },
  },
  {
    files: ['test/**/*.ts', 'dev/demo.ts', 'dev/demo/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
