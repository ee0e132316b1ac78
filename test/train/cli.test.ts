/**
 * Tests of `diffuse train`: flag errors before any work (in process), --help, and Ctrl-C in a
 * child process: SIGINT writes a loadable checkpoint, exits 130 (the shell's Ctrl-C code), and --resume continues the run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrainArgs, help } from '../../src/cli/commands/train.js';
import { cliInProcess } from '../helpers/cli_in_process.js';
import { latestCheckpoint, resolveModelDir } from '../../src/io/model_folder.js';
import { UNet2DModel } from '../../src/nn/unet_2d.js';
import { TINY_UNET, tempDir } from './fixtures.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const mainModule = join(here, '..', '..', 'src', 'cli', existsSync(join(here, '..', '..', 'src', 'cli', 'main.ts')) ? 'main.ts' : 'main.js');

/** Runs `diffuse train ...` in process, capturing stderr; returns the exit code and stderr. */
const cli = (args: string[]): Promise<{ code: number; stderr: string }> => cliInProcess(['train', ...args]);

describe('diffuse train CLI', () => {
  it('bad flags and values give clear errors before any work', async () => {
    const d = tempDir('cli-bad');
    const out = join(d, 'run');
    try {
      const cases: [string[], RegExp][] = [
        [['--data', 'fashion-mnist'], /--out RUN_DIR is required/],
        [['--out', out], /--data is required/],
        [['--data', 'nowhere/at/all', '--out', out], /--data 'nowhere\/at\/all' is neither 'fashion-mnist', 'mnist' nor an existing folder/],
        [['--data', 'mnist', '--out', out, '--steps', 'ten'], /--steps must be an integer >= 1, found 'ten'/],
        [['--data', 'mnist', '--out', out, '--batch', '0'], /--batch must be an integer >= 1, found '0'/],
        [['--data', 'mnist', '--out', out, '--lr=-1e-4'], /--lr must be a number in \(0, 1\], found '-1e-4'/],
        [['--data', 'mnist', '--out', out, '--ema-decay', '2'], /--ema-decay must be a number in \[0, 1\], found '2'/],
        [['--data', 'mnist', '--out', out, '--class-dropout', '1'], /--class-dropout must be a probability in \[0, 1\)/],
        [['--data', 'mnist', '--out', out, '--prediction-type', 'eps'], /--prediction-type must be one of epsilon, sample, v_prediction, found 'eps'/],
        [['--data', 'mnist', '--out', out, '--beta-schedule', 'cos'], /--beta-schedule must be one of linear, scaled_linear, squaredcos_cap_v2, sigmoid, found 'cos'/],
        [['--data', 'mnist', '--out', out, '--min-snr-gamma', '0'], /--min-snr-gamma must be null or a number > 0, found '0'/],
        [['--data', 'mnist', '--out', out, '--config', join(d, 'none.json')], /--config '.*none.json': no such file/],
        [['--data', 'mnist', '--out', out, '--bogus'], /bogus/],
        [['--data', 'mnist', '--out', out, 'extra'], /unexpected argument 'extra'/],
        [['--out', out, '--resume'], /cannot resume: .* has no train_config.json/],
      ];
      for (const [args, re] of cases) {
        const r = await cli(args);
        // Flag errors are usage errors (exit 2); resuming a folder that is no run is a runtime error.
        assert.equal(r.code, args.includes('--resume') ? 1 : 2, args.join(' '));
        assert.match(r.stderr, re, args.join(' '));
        assert.ok(!r.stderr.includes('    at '), `no stack trace for a user error: ${r.stderr}`);
      }
      assert.equal(existsSync(out), false, 'nothing written');
      // A config file that is not an object.
      writeFileSync(join(d, 'list.json'), '[1, 2]');
      assert.match((await cli(['--data', 'mnist', '--out', out, '--config', join(d, 'list.json')])).stderr, /expected a JSON object/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('parses every flag; only given flags reach train(); --help explains the defaults', () => {
    const o = parseTrainArgs(['--data', 'mnist', '--out', 'r', '--steps', '5', '--batch', '2', '--lr', '1e-3', '--warmup', '0', '--weight-decay', '0', '--grad-clip', '0.5', '--ema-decay', '0.9', '--class-dropout', '0.2', '--prediction-type', 'v_prediction', '--beta-schedule', 'squaredcos_cap_v2', '--min-snr-gamma', '5', '--flip', '--seed', '9', '--save-every', '2', '--keep', '1', '--threads', '1', '--timesteps', '500', '--lr-schedule', 'cosine', '--time-limit', '1.5']);
    assert.deepEqual(o, {
      data: 'mnist', out: 'r', resume: false, steps: 5, batchSize: 2, lr: 1e-3, warmup: 0, weightDecay: 0, gradClip: 0.5, emaDecay: 0.9, classDropout: 0.2,
      predictionType: 'v_prediction', betaSchedule: 'squaredcos_cap_v2', minSnrGamma: 5, flip: true, seed: 9, saveEvery: 2, keep: 1, threads: 1, numTrainTimesteps: 500, lrSchedule: 'cosine', timeLimit: 1.5,
    });
    assert.deepEqual(parseTrainArgs(['--out', 'r', '--resume', '--steps', '9']), { data: '', out: 'r', resume: true, steps: 9 });
    for (const flag of ['--data', '--out', '--config', '--steps', '--batch', '--lr', '--warmup', '--weight-decay', '--grad-clip', '--ema-decay', '--class-dropout', '--prediction-type', '--beta-schedule', '--min-snr-gamma', '--flip', '--seed', '--save-every', '--keep', '--resume', '--threads', '--time-limit']) {
      assert.ok(help.includes(flag), flag);
    }
    assert.match(help, /diffuse train --data fashion-mnist --out runs\/fm/);
  });

  it('Ctrl-C (SIGINT) in a child writes a loadable checkpoint and exits 130; --resume finishes', async () => {
    const d = tempDir('cli-sigint');
    const out = join(d, 'run');
    const config = join(d, 'unet.json');
    writeFileSync(config, JSON.stringify({ ...TINY_UNET, sample_size: 28, num_class_embeds: 11 }));
    const script = `import(${JSON.stringify(mainModule)}).then(async (m) => { process.exitCode = await m.main(process.argv.slice(1)); });`;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, 'train', '--data', 'fashion-mnist', '--out', out, '--config', config, '--steps', '100000', '--batch', '4', '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      // Wait until a few steps are logged, then interrupt.
      const metrics = join(out, 'metrics.jsonl');
      const t0 = Date.now();
      while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 3)) {
        if (Date.now() - t0 > 60000) throw new Error(`no steps after 60 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, stderr);
      assert.match(stderr, /interrupted at step \d+; checkpoint .*step-\d{7}; continue with --resume/);
      const latest = latestCheckpoint(out);
      assert.ok(latest !== null && latest.step >= 3, stderr);
      const steps = readFileSync(metrics, 'utf8').trim().split('\n').length;
      assert.equal(steps, latest.step, 'the checkpoint is at the last step taken');
      UNet2DModel.fromPretrained(resolveModelDir(out).unetDir);
      assert.deepEqual(readdirSync(join(out, 'checkpoints')).filter((n) => n.startsWith('.')), []);
      // Resume in process to a few more steps: the run finishes and exports its model.
      const r = await cli(['--out', out, '--resume', '--steps', String(latest.step + 2)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /resumed .* at step \d+/);
      assert.ok(existsSync(join(out, 'model', 'unet', 'config.json')));
      const r2 = await cli(['--out', out, '--resume', '--lr', '0.5']);
      assert.match(r2.stderr, /these differ: lr/);
      assert.match((await cli(['--out', out, '--resume', '--data', 'mnist'])).stderr, /these differ: data \(saved "fashion-mnist", given "mnist"\)/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
