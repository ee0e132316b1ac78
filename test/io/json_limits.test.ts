/**
 * JSON config and state files come from outside (issue 14, failure 4): a config.json that is a
 * pipe used to block the process forever, and a multi-gigabyte one would be parsed whole into
 * memory; both are refused by name before reading.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, MAX_JSON_BYTES, readJSONFile } from '../../src/io/checkpoint.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';

describe('JSON file limits', () => {
  it('a pipe, a folder or an oversized file is refused by name before reading; a real file still reads', () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-json-'));
    try {
      const unet = join(d, 'unet');
      mkdirSync(unet);
      execFileSync('mkfifo', [join(unet, 'config.json')]);
      const t0 = performance.now();
      assert.throws(() => UNet2DModel.fromPretrained(unet), (e: unknown) => e instanceof CheckpointError && e.message === `${join(unet, 'config.json')}: not a regular file (a pipe, socket or device)`);
      assert.ok(performance.now() - t0 < 1000, 'did not block on the pipe');
      mkdirSync(join(d, 'folder.json'));
      assert.throws(() => readJSONFile(join(d, 'folder.json')), /folder\.json: not a regular file \(a folder\)/);
      const big = join(d, 'big.json');
      writeFileSync(big, '{}');
      truncateSync(big, MAX_JSON_BYTES + 1); // sparse: no disk used
      assert.throws(() => readJSONFile(big), new RegExp(`big\\.json: ${MAX_JSON_BYTES + 1} bytes, more than the 64 MiB a JSON config or state file may have`));
      writeFileSync(join(d, 'ok.json'), '{"a": 1}');
      assert.deepEqual(readJSONFile(join(d, 'ok.json')), { a: 1 });
      assert.throws(() => readJSONFile(join(d, 'missing.json')), /missing\.json: cannot read: ENOENT/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
