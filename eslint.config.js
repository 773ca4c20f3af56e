// ESLint: the recommended rules of ESLint and typescript-eslint; formatting is Prettier's
// (eslint-config-prettier turns off the rules that would disagree with it). Run by `npm test`.
'use strict';
const js = require('@eslint/js');
const globals = require('globals');
const prettier = require('eslint-config-prettier');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/', '.cache/', 'node_modules/', 'bench/results/', 'tools/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Prettier does not break strings, comments or template literals: keep lines readable anyway.
      'max-len': ['error', { code: 160, ignoreUrls: true }],
      // `_name` marks a parameter that an interface requires but this implementation does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The dashboard page runs in the browser (bundled by scripts/build-ui.js).
    files: ['ui/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
