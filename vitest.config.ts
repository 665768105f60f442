import { defineConfig } from 'vitest/config';

// Fast tests are unit-sized; slow tests spawn processes, serve repositories or move large files; heavy
// tests take the better part of a minute or more each (patches between real 10-30 MB binaries, the seeded
// kill suites). `npm test` runs fast and slow (about five minutes on 2 cores); CI also runs
// `npm run test:heavy`; `test:all` runs the three, `test:fast`, `test:slow`, `test:heavy` one each.
const slow = ['**/*.slow.test.ts'];
const heavy = ['**/*.heavy.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'fast',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'demo-app/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...slow, ...heavy],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'slow',
          include: slow,
          exclude: ['**/node_modules/**'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'heavy',
          include: heavy,
          exclude: ['**/node_modules/**'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
