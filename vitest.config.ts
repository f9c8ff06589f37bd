import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // In-process tests run the sources; spawned processes run the compiled dist (built by `npm test`).
    alias: { '@reins/shared': here('./libs/shared/src/index.ts') },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Files run one at a time: each starts real redis-server, tmux and agent processes on a 2-core machine.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default'],
  },
});
