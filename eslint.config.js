// Type-aware linting: the exhaustiveness and floating-promise rules catch the bugs the compiler lets through.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The folders of src/, lowest first (docs/development.md#layers-and-rules-of-the-house): a folder imports only from folders of a lower layer, never from a
 * higher one nor from a sibling on its own layer — so the folders form no cycle. `agent/` is the on-instance daemon:
 * it stands apart and takes only `domain/`.
 */
const LAYERS = [['domain', 'web'], ['schedule'], ['config'], ['planner', 'maintenance'], ['ports'], ['store', 'providers'], ['reconciler'], ['app', 'api'], ['cli', 'lambda']];
const FOLDERS = [...LAYERS.flat(), 'agent'];
function allowed(folder) {
  if (folder === 'agent') return ['domain'];
  const layer = LAYERS.findIndex((l) => l.includes(folder));
  return [...LAYERS.slice(0, layer).flat(), ...(folder === 'cli' ? ['agent'] : [])];
}
const layering = FOLDERS.map((folder) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: FOLDERS.filter((other) => other !== folder && !allowed(folder).includes(other)).map((other) => ({
          group: [`../${other}`, `../${other}/**`, `../../${other}`, `../../${other}/**`],
          message: `src/${folder} may import only from ${allowed(folder).join(', ') || 'nothing else'} (the layers of DESIGN.md; see eslint.config.js)`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.fleetwarden/**', 'cdk.out/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      'no-console': 'off',
      // A port method may ignore an argument (the simulator has no forced stop): name it _like_this.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layering,
  // The dashboard's browser code has its own project (the DOM library): lint it with that.
  { files: ['src/web/ui/**/*.ts'], languageOptions: { parserOptions: { projectService: false, project: './src/web/ui/tsconfig.json', tsconfigRootDir: import.meta.dirname } } },
  // Plain JavaScript helpers (the test runner) are outside the TypeScript project: lint them without types.
  { files: ['scripts/**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // node:test tracks the promises describe/it return; awaiting them would serialise nothing.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
    },
  },
);
