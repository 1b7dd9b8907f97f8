// ESLint (flat config) with typescript-eslint's type-checked rules: the bugs worth catching here
// (a promise nobody awaits, a promise where a callback's result is ignored, `any` leaking into
// typed code) are only visible with type information. Layout is Prettier's job: eslint-config-prettier,
// last, turns off every rule that would fight it. `npm run lint` runs both.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const readonly = (names) => Object.fromEntries(names.map((name) => [name, 'readonly']));
// The globals the plain JavaScript files use (scripts/*.mjs, scripts/start.cjs, the tests' *.cjs
// stand-ins); TypeScript files get theirs from @types/node, and no-undef is off for them.
const nodeGlobals = readonly([
  'process',
  'console',
  'Buffer',
  'URL',
  'performance',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'setImmediate',
]);
const commonJsGlobals = readonly(['require', 'module', 'exports', '__dirname', '__filename']);

export default defineConfig(
  // Built output, and data the tests compare byte for byte (as in .prettierignore).
  { ignores: ['dist/', 'node_modules/', 'example-root/', 'tmp/', 'templates/', 'test/golden/', 'test/fixtures/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // src/ is tsconfig.json's; test/, bench/ and scripts/*.ts are test/tsconfig.json's (which
        // `npm run typecheck` checks too). The first project that holds a file types it.
        project: ['./tsconfig.json', './test/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test() and describe() return promises that the runner awaits itself; a test
      // file calls them at its top level. Everything else (t.test, a helper's promise) still counts.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      // `const { secret: _secret, ...rest } = x` is how this code leaves a field out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // A catch block passes on what it caught as it came (`unknown`); anything else must be an Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Matching control characters is the point where this code uses them: the sanitizers of
      // remote output and property values, and the tests that feed them hostile bytes.
      'no-control-regex': 'off',
      // An async callback without await is how this code hands a synchronous body to an API that
      // takes a promise-returning one (withSandbox, waitFor, runActions); harmless, and the real
      // bug, a promise nobody awaits, is no-floating-promises' to find.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The tests read the CLI's --json output with JSON.parse (typed `any`) and assert on its
    // fields; the assertions check the shape, so a cast before each would only restate them.
    files: ['test/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // Plain JavaScript is in no TypeScript project: no type-aware rules.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...nodeGlobals, ...commonJsGlobals } },
    // A CommonJS file loads modules with require(); that is what it is for.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
