import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readLossHistory, writeLossCurve } from '../../src/train/loss_curve.js';

function runWith(lines: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-run-'));
  writeFileSync(join(dir, 'metrics.jsonl'), lines);
  return dir;
}

describe('loss curve', () => {
  it('reads (step, loss) in step order and skips a torn last line', () => {
    const dir = runWith('{"step":2,"loss":0.5}\n{"step":1,"loss":1}\n{"step":3,"lo');
    assert.deepEqual(readLossHistory(dir), [[1, 1], [2, 0.5]]);
  });
  it('a bad line in the middle, a missing file, or no losses: clear errors', () => {
    assert.throws(() => readLossHistory(runWith('{"step":1,"loss":1}\nnot json\n{"step":2,"loss":1}\n')), /metrics\.jsonl:2: not a JSON metrics line/);
    assert.throws(() => readLossHistory('/nonexistent-run'), /cannot read the run's metrics/);
    assert.throws(() => readLossHistory(runWith('\n')), /no loss values yet/);
  });
  it('writes a PNG', async () => {
    const dir = runWith(Array.from({ length: 50 }, (_, i) => JSON.stringify({ step: i + 1, loss: 1 / (i + 1) })).join('\n'));
    const out = join(dir, 'loss.png');
    await writeLossCurve(dir, out);
    assert.equal((await sharp(out).metadata()).format, 'png');
  });
});
