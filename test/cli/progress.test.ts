import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar, formatDuration } from '../../src/cli/progress.js';

function sink(isTTY: boolean): { stream: NodeJS.WriteStream; out: string[] } {
  const out: string[] = [];
  const stream = { isTTY, write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, out };
}

describe('progress bar', () => {
  it('formats durations', () => {
    assert.equal(formatDuration(5), '5s');
    assert.equal(formatDuration(185), '3m05s');
    assert.equal(formatDuration(3720), '1h02m');
    assert.equal(formatDuration(Infinity), '?');
  });
  it('renders count, percent, rate, ETA and fields; the last update always draws', () => {
    const { stream, out } = sink(false);
    const bar = new ProgressBar({ total: 4, label: 'train', unit: 'step', stream, plainEvery: 3600 });
    bar.update(1, { loss: 0.5 });
    bar.update(4, { loss: 0.25 });
    const last = out[out.length - 1]!;
    assert.match(last, /^train \[#{24}\] 100% 4\/4 [\d.]+ step\/s ETA 0s  loss 0\.2500\n$/);
  });
  it('redraws in place on a TTY', () => {
    const { stream, out } = sink(true);
    const bar = new ProgressBar({ total: 2, stream });
    bar.update(2);
    bar.done();
    assert.ok(out[0]!.startsWith('\r\x1b[2K'));
    assert.equal(out[out.length - 1], '\n');
  });
});
