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
  it('counts the rate from the first update: a resumed run at step 3822 shows its own pace, not 3822 steps in a second', () => {
    const { stream, out } = sink(false);
    let t = 0;
    const bar = new ProgressBar({ total: 7000, label: 'train', stream, plainEvery: 0, now: () => t });
    bar.update(3822);
    assert.match(out[0]!, / 3822\/7000 \? it\/s ETA \?/, 'one point: rate unknown');
    t = 10_000;
    bar.update(3832);
    // 10 steps in 10 s: 1 it/s, 3168 steps left = 52m48s.
    assert.match(out[1]!, / 3832\/7000 1\.00 it\/s ETA 52m48s/);
  });
  it('caps the ETA by the time left under a limit (--time-limit)', () => {
    const { stream, out } = sink(false);
    let t = 0;
    const bar = new ProgressBar({ total: 3000, stream, plainEvery: 0, now: () => t });
    bar.update(1, {}, 300);
    t = 2000;
    bar.update(2, {}, 298); // 0.5 it/s: 2998 steps = 1h40m by count, but 298 s left
    assert.match(out[1]!, /ETA 4m58s/);
    assert.equal(bar.render(5000).match(/ETA (\S+)/)![1], '4m55s', 'the time left runs down between updates');
  });
  it('writes log lines above the bar on a TTY and as plain lines elsewhere', () => {
    const tty = sink(true);
    const bar = new ProgressBar({ total: 4, stream: tty.stream, now: () => 0 });
    bar.update(1);
    bar.log('checkpoint runs/x/checkpoints/step-0000001');
    const i = tty.out.indexOf('\r\x1b[2Kcheckpoint runs/x/checkpoints/step-0000001\n');
    assert.ok(i >= 0, JSON.stringify(tty.out));
    assert.match(tty.out[i + 1]!, /^\r\x1b\[2K\[/, 'the bar is redrawn below it');
    const plain = sink(false);
    new ProgressBar({ total: 4, stream: plain.stream }).log('samples a.png');
    assert.deepEqual(plain.out, ['samples a.png\n']);
  });
});

