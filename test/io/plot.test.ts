import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { lineChartSvg, niceTicks, logTicks, writeLineChartPng } from '../../src/io/plot.js';

describe('line charts', () => {
  it('nice ticks are round and cover the range', () => {
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 3000), [0, 1000, 2000, 3000]);
    const t = niceTicks(-1.2, 0.3);
    assert.ok(t[0]! >= -1.2 && t[t.length - 1]! <= 0.3 + 1e-12 && t.length >= 3);
  });
  it('renders series (skipping non-finite points), escaped labels and a legend', () => {
    const svg = lineChartSvg({ title: 'loss <ema>', xLabel: 'step', yLabel: 'loss', series: [{ name: 'raw', points: [[1, 1], [2, NaN], [3, 0.5]] }] });
    assert.match(svg, /loss &lt;ema&gt;/);
    assert.equal((svg.match(/<path d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+"/g) ?? []).length, 1);
    assert.match(svg, />raw</);
  });
  it('a log axis needs positive values; no points is a clear error', () => {
    assert.throws(() => lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 'a', points: [[0, 0], [1, -1]] }] }), /no finite points to draw \(log axis needs y > 0\)/);
  });
  it('writes a PNG of the requested size', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'diffuse-plot-')), 'c.png');
    await writeLineChartPng(path, { title: 't', xLabel: 'x', yLabel: 'y', width: 300, height: 200, logY: true, series: [{ name: 'a', points: [[0, 1], [1, 0.1], [2, 0.05]] }] });
    const meta = await sharp(path).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 300);
    assert.equal(meta.height, 200);
  });
});

describe('log ticks', () => {
  it('1-2-5 steps within the range, only powers of ten when the range is wide', () => {
    assert.deepEqual(logTicks(0.03, 1), [0.05, 0.1, 0.2, 0.5, 1]);
    assert.deepEqual(logTicks(1e-4, 10), [1e-4, 1e-3, 0.01, 0.1, 1, 10]);
  });
});
