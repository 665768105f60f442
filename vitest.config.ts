import { defineConfig } from 'vitest/config';

// Fast tests are unit-sized; slow tests spawn processes, serve repositories or move large files.
// Both run in CI; `npm run test:fast` gives a quick loop while editing.
const slow = ['**/*.slow.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'fast',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'demo-app/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...slow],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'slow',
          include: slow.map((s) => s),
          exclude: ['**/node_modules/**'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
