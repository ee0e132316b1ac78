/**
 * The web page's request: controls left alone send the model's sampling defaults exactly (1.3
 * stays 1.3, not the 1.5 a 0.5-step slider snapped it to); moved controls send their values.
 * The oracle is the model's sampling_config.json as the server reports it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSlider, samplingRequest, UNTOUCHED } from '../../src/web/sampling_request.js';
import { packageRoot } from '../../src/io/package_root.js';

const MODEL = { name: 'm', guidance: true, defaults: { guidance: 1.3, sampler: 'dpmpp_2m', steps: 20 } };
// What the controls hold after a 0.5-step slider snapped 1.3 and a max-10 steps slider clamped 20.
const SNAPPED = { sampler: 'dpmpp_2m', steps: 10, guidance: 1.5, classLabel: 3, seed: 7 };

describe('web page: the sampling request', () => {
  it("sends the model's defaults exactly while no control is moved", () => {
    assert.deepEqual(samplingRequest(MODEL, SNAPPED, UNTOUCHED), { model: 'm', sampler: 'dpmpp_2m', steps: 20, guidance: 1.3, classLabel: 3, seed: 7 });
  });

  it('sends what the user set on each moved control, the defaults on the others', () => {
    const moved = samplingRequest(MODEL, { ...SNAPPED, guidance: 2, sampler: 'ddim' }, { sampler: true, steps: false, guidance: true });
    assert.deepEqual(moved, { model: 'm', sampler: 'ddim', steps: 20, guidance: 2, classLabel: 3, seed: 7 });
    assert.equal(samplingRequest(MODEL, SNAPPED, { ...UNTOUCHED, steps: true }).steps, 10);
  });

  it('without defaults (no sampling_config.json) or guidance (unconditional) the controls are sent', () => {
    const bare = { name: 'u', guidance: false, defaults: { guidance: 1, sampler: null, steps: null } };
    assert.deepEqual(samplingRequest(bare, { ...SNAPPED, guidance: 1 }, UNTOUCHED), { model: 'u', sampler: 'dpmpp_2m', steps: 10, guidance: 1, classLabel: 3, seed: 7 });
  });

  it("the page's guidance slider holds the bundled models' defaults without snapping, and shows them as written", () => {
    const html = readFileSync(join(packageRoot(), 'src', 'web', 'index.html'), 'utf8');
    const tag = /<input id="guidance"[^>]*>/.exec(html)?.[0];
    assert.ok(tag !== undefined, 'the guidance slider is in index.html');
    const attr = (a: string) => Number(new RegExp(`${a}="([^"]+)"`).exec(tag)![1]);
    const [min, max, step] = [attr('min'), attr('max'), attr('step')];
    for (const name of ['fashion-mnist', 'mnist']) {
      const g = (JSON.parse(readFileSync(join(packageRoot(), 'models', name, 'sampling_config.json'), 'utf8')) as { guidance_scale: number }).guidance_scale;
      assert.ok(g >= min && g <= max, `${name}: guidance ${g} in [${min}, ${max}]`);
      const k = (g - min) / step;
      assert.ok(Math.abs(k - Math.round(k)) < 1e-9, `${name}: guidance ${g} is a step of the slider (step ${step})`);
      assert.equal(Number(formatSlider(g)), g);
    }
    for (const [v, shown] of [[1.3, '1.3'], [1.25, '1.25'], [2, '2'], [1.6000000000000001, '1.6']] as const) assert.equal(formatSlider(v), shown);
  });
});
