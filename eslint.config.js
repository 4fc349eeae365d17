// npm run lint. Type-aware rules for the TypeScript (tsconfig.json covers every .ts file); formatting is Prettier's.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Kept whole: Express 5's types say a handler returns `unknown` (Express awaits it), so an async handler is
      // no finding; a promise handed where `void` is expected (an event listener, a timer) still is.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: true }],
      // Passing on what a `catch` caught (unknown) is fine; a string or a literal still is not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `any` enters only as Express's req.body / req.query and supertest's res.body, checked at run time by
      // validate.ts and the tests' expectations; a cast at every read would add noise and catch nothing.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Controllers and services are factories returning object literals of closures that never use `this`.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.{js,cjs,mjs}'], extends: [tseslint.configs.disableTypeChecked] },
  { files: ['public/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'script' } },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
