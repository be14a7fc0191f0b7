// ESLint over the TypeScript tree: @eslint/js and typescript-eslint's type-aware recommended rules.
// Formatting is Prettier's job; these sets hold no layout rule (test/lint-style.test.ts checks it).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'bench/results/', 'console/client/schema.d.ts'] },
  {
    files: [
      'src/**/*.ts',
      'test/**/*.ts',
      'bench/**/*.ts',
      'migrations/**/*.ts',
      'seeds/**/*.ts',
      'knexfile.ts',
      'scripts/**/*.ts',
      'console/**/*.ts',
      'console/**/*.tsx',
    ],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Prettier can break a statement across lines where this rule then objects (eslint-config-prettier turns it off too).
      'no-unexpected-multiline': 'off',
      // A leading underscore marks a name kept on purpose: an Express error handler's fourth argument, a key left out of a rest copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // An async function without await is how a Promise-returning port is implemented (a throw becomes a rejection); no-floating-promises and await-thenable catch the real mistakes.
      '@typescript-eslint/require-await': 'off',
      // With noUncheckedIndexedAccess off every `list[i]!` counts as redundant, yet it marks an index read the code has checked; a redundant assertion changes nothing at run time.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // yjs's declarations leave out Y.Text's own toString(), which returns the text.
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', 'YText'] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests and benchmarks read parsed JSON bodies and raw SQL rows, which are `any` by construction: the assertion on the value is the check.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
