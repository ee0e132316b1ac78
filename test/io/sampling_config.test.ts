/**
 * sampling_config.json: the defaults a model folder gives the commands. Oracle: the values
 * written, and the documented fallbacks (guidance 1, no scheduler or steps).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SAMPLING_CONFIG, SAMPLING_CONFIG_NAME, defaultSteps, readSamplingConfig, writeSamplingConfig } from '../../src/io/sampling_config.js';

function modelFolder(): { dir: string; unetDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-sampling-config-'));
  const unetDir = join(dir, 'unet');
  mkdirSync(unetDir);
  return { dir, unetDir };
}

describe('sampling_config.json', () => {
  it('absent: guidance 1, no scheduler or steps; written: read back as written', () => {
    const { dir, unetDir } = modelFolder();
    assert.deepEqual(readSamplingConfig(unetDir), DEFAULT_SAMPLING_CONFIG);
    writeSamplingConfig(dir, { guidanceScale: 1.3, scheduler: 'dpmpp_2m', numInferenceSteps: 20 });
    assert.deepEqual(readSamplingConfig(unetDir, ['ddim', 'dpmpp_2m']), { guidanceScale: 1.3, scheduler: 'dpmpp_2m', numInferenceSteps: 20 });
    writeSamplingConfig(dir, { guidanceScale: 2 });
    assert.deepEqual(readSamplingConfig(unetDir), { guidanceScale: 2, scheduler: null, numInferenceSteps: null });
  });

  it("its steps go with its scheduler only", () => {
    assert.equal(defaultSteps(20, false), 20);
    assert.equal(defaultSteps(20, true), null);
    assert.equal(defaultSteps(null, false), null);
  });

  it('bad fields: an error naming the file, the field and what was found', () => {
    const { dir, unetDir } = modelFolder();
    const file = join(dir, SAMPLING_CONFIG_NAME);
    const cases: [unknown, RegExp][] = [
      [[1, 2], /expected a JSON object/],
      [{ guidance_scale: -1 }, /config key "guidance_scale" has value -1; allowed: a number in \[0, 100\]/],
      // Issue 14, failure 6: 1e308 gave all-black images.
      [{ guidance_scale: 1e308 }, /config key "guidance_scale" has value 1e\+308; allowed: a number in \[0, 100\]/],
      [{ scheduler: 'fastest' }, /config key "scheduler" has value "fastest"; allowed: null or one of "ddim"/],
      [{ num_inference_steps: 2.5 }, /config key "num_inference_steps" has value 2.5; allowed: null or an integer >= 1/],
      [{ guidance: 2 }, /unknown config key "guidance" \(value 2\) \(did you mean "guidance_scale"\?\)/],
    ];
    for (const [json, re] of cases) {
      writeFileSync(file, JSON.stringify(json));
      assert.throws(() => readSamplingConfig(unetDir, ['ddim']), (e: Error) => e.message.startsWith(file) && re.test(e.message), re.source);
    }
  });
});
