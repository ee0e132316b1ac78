/**
 * createServer's options: `concurrency` (jobs at once on the local queue) and its old name
 * `threads`, kept for library callers; giving both with different values is an error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/app.js';
import { makeModelsDir } from './helpers.js';

describe('createServer options', () => {
  it("'threads' is the old name of 'concurrency': either works, two different values are refused", async () => {
    const modelsDir = makeModelsDir().dir;
    await assert.rejects(createServer({ modelsDir, threads: 1, concurrency: 2 }), /createServer: 'threads' is the old name of 'concurrency'; give one of them, found threads 1 and concurrency 2/);
    for (const options of [{ concurrency: 2 }, { threads: 2 }, { threads: 2, concurrency: 2 }]) {
      const server = await createServer({ modelsDir, ...options });
      await server.close();
    }
  });
});
