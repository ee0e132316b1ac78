/**
 * The conventions every `diffuse` command shares (issue 16): --version/-v, -h/--help on every
 * command of main's table, "did you mean" for a command, a flag, a sampler and a class name (one
 * Damerau-Levenshtein helper), exit codes (2 usage, 1 runtime; 130 after Ctrl-C is in
 * test/train/cli.test.ts, where a child trains and is interrupted), one message prefix, class names
 * wherever a class index is taken, and a `samplers` table within 100 columns.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS, errorLine, main } from '../../src/cli/main.js';
import { closestName, closestNames, editDistance } from '../../src/schema/did_you_mean.js';
import { resolveClassRefs } from '../../src/cli/class_arg.js';
import { algorithmRows, formatTable, TABLE_WIDTH } from '../../src/cli/commands/samplers.js';
import { packageRoot } from '../../src/io/package_root.js';
import { UsageError } from '../../src/tensor/errors.js';

/** `diffuse ...args` in process: the exit code and everything written to stdout and stderr. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  let stdout = '';
  let stderr = '';
  // stdout is teed, not swallowed: under --test it also carries the runner's reports.
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), out(c))) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
// The bin imports dist/, so its part of the test needs the build (npm test builds first).
const bin = join(packageRoot(), 'bin', 'diffuse.js');

describe('CLI conventions', () => {
  it('--version and -v print the package version (in process, and through the bin as a user runs it)', async () => {
    for (const flag of ['--version', '-v']) {
      const inProcess = await cli(flag);
      assert.equal(inProcess.code, 0);
      assert.equal(inProcess.stdout, `${version}\n`);
      const r = spawnSync(process.execPath, [bin, flag], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  it('-h and --help answer on every command of the table, exit 0, and the help lists every command', async () => {
    assert.ok(Object.keys(COMMANDS).length >= 16);
    const top = await cli('--help');
    for (const [name, cmd] of Object.entries(COMMANDS)) {
      assert.match(top.stdout, new RegExp(`^  ${name} +\\S`, 'm'), name);
      for (const flag of ['--help', '-h']) {
        const r = await cli(name, flag);
        assert.equal(r.code, 0, `${name} ${flag}: ${r.stderr}`);
        assert.equal(r.stdout, cmd.help, `${name} ${flag}`);
        assert.match(r.stdout, new RegExp(`^diffuse ${name}[ :]`), name);
      }
      // `diffuse help CMD` is the same text.
      assert.equal((await cli('help', name)).stdout, cmd.help, `help ${name}`);
    }
    for (const line of top.stdout.split('\n')) assert.ok(line.length <= 100, `help line over 100 columns: ${line}`);
  });

  it('edit distance: Damerau-Levenshtein (a swap of two letters is one edit), and the closest names', () => {
    assert.equal(editDistance('steps', 'stpes'), 1);
    assert.equal(editDistance('dpmpp2m', 'dpmpp_2m'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(closestName('smaple', ['sample', 'samplers', 'serve']), 'sample');
    assert.equal(closestName('zzzzzz', ['sample', 'serve']), undefined);
    assert.deepEqual(closestNames('sed', ['seed', 'steps', 'sde', 'out']), ['seed', 'sde']);
  });

  it('a mistyped command, flag or sampler: exit 2, one short message with the closest name and where the list is', async () => {
    const c = await cli('smaple', '--n', '4');
    assert.equal(c.code, 2);
    assert.equal(c.stderr, "diffuse: unknown command 'smaple' (did you mean 'sample'?); run 'diffuse --help' for the commands\n");
    const f = await cli('sample', '--stesp', '3');
    assert.equal(f.code, 2);
    assert.equal(f.stderr, "diffuse sample: unknown option '--stesp' for 'diffuse sample' (did you mean '--steps'?); see 'diffuse sample --help'\n");
    const none = await cli('info', '--frobnicate');
    assert.equal(none.code, 2);
    assert.equal(none.stderr, "diffuse info: unknown option '--frobnicate' for 'diffuse info'; see 'diffuse info --help'\n");
    const s = await cli('sample', '--scheduler', 'dpmpp2m', '--out', join(tmpdir(), 'never.png'));
    assert.equal(s.code, 2);
    assert.equal(s.stderr, "diffuse sample: --scheduler: unknown sampler 'dpmpp2m' (did you mean 'dpmpp_2m'?); 'diffuse samplers' lists them all\n");
    // Every command that takes a sampler answers the same way (eval calls its flag --sampler).
    const e = await cli('eval', '--sampler', 'eulr');
    assert.equal(e.code, 2);
    assert.match(e.stderr, /^diffuse eval: --sampler: unknown sampler 'eulr' \(did you mean 'euler'\?\)/);
    // A short list still shows every value, with the closest.
    const sig = await cli('sample', '--sigmas', 'karas', '--out', join(tmpdir(), 'never.png'));
    assert.equal(sig.code, 2);
    assert.match(sig.stderr, /--sigmas must be one of karras, exponential, polyexponential, discrete, found 'karas' \(did you mean 'karras'\?\)/);
  });

  it('exit codes: 2 for usage errors (bad value, missing required flag, stray argument), 1 for runtime errors, no stack', async () => {
    const d = mkdtempSync(join(tmpdir(), 'diffuse-conv-'));
    try {
      const usage: string[][] = [['demo', '--steps', 'zero'], ['plot', '--out', join(d, 'a.png')], ['sample', 'extra'], ['samplers', '--wide', 'a', 'b'], ['serve', '--threads', '2'], ['train', '--data', 'mnist'], ['train', '--data', 'mnist', '--out', join(d, 'r'), '--steps', '0']];
      for (const args of usage) {
        const r = await cli(...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
      }
      // A run folder that does not exist is not a usage error: the command line was fine.
      const runtime = await cli('plot', '--run', join(d, 'nowhere'), '--out', join(d, 'a.png'));
      assert.equal(runtime.code, 1, runtime.stderr);
      assert.match(runtime.stderr, /^diffuse plot: /);
      const resume = await cli('train', '--out', join(d, 'r'), '--resume');
      assert.equal(resume.code, 1, resume.stderr);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('one message prefix: "diffuse CMD: " once, whatever the message started with', async () => {
    const r = await cli('plot', '--out', 'x.png');
    assert.equal(r.stderr, 'diffuse plot: --run RUN_DIR is required\n');
    assert.equal(errorLine('plot', 'plot: no metrics'), 'diffuse plot: no metrics');
    assert.equal(errorLine('plot', 'diffuse plot: no metrics'), 'diffuse plot: no metrics');
    assert.equal(errorLine('train', "train: cannot resume: r has no train_config.json"), 'diffuse train: cannot resume: r has no train_config.json');
    assert.equal(errorLine('eval', 'eval --bpd: --n 9 is more'), 'diffuse eval --bpd: --n 9 is more');
    assert.equal(errorLine('sample', 'samplers are slow'), 'diffuse sample: samplers are slow');
    assert.equal(errorLine(undefined, 'x'), 'diffuse: x');
    assert.equal(errorLine('info', 'diffuse: the native addon could not be loaded'), 'diffuse info: the native addon could not be loaded');
    // A library message that names its command ("train: ...") is not said twice.
    const d = mkdtempSync(join(tmpdir(), 'diffuse-conv-'));
    try {
      const t = await cli('train', '--out', join(d, 'r'), '--resume');
      assert.match(t.stderr, /^diffuse train: cannot resume: /);
      assert.doesNotMatch(t.stderr, /train: train:/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('class names wherever a class index is: --class sneaker, --class 7, a list; an unknown name lists the classes', async () => {
    const fm = join(packageRoot(), 'models', 'fashion-mnist');
    assert.deepEqual(resolveClassRefs(['sneaker', 'Ankle boot', 'ankle-boot', 'T-shirt/top', 3], fm), [7, 9, 9, 0, 3]);
    assert.deepEqual(resolveClassRefs(['bag'], undefined), [8], 'the bundled model by default');
    assert.deepEqual(resolveClassRefs([7], fm), [7]);
    assert.throws(() => resolveClassRefs(['snekaer'], fm), (e: Error) => e instanceof UsageError && /--class 'snekaer' is not a class of the model .*\(did you mean 'Sneaker'\?\); its classes: 0 'T-shirt\/top', 1 'Trouser', .* 9 'Ankle boot'/.test(e.message));
    const mnist = join(packageRoot(), 'models', 'mnist');
    assert.deepEqual(resolveClassRefs(['7'].map(Number), mnist), [7]);
    // Through the CLI: the flag takes names, and the unknown name is a usage error before any work.
    const d = mkdtempSync(join(tmpdir(), 'diffuse-conv-'));
    try {
      const ok = await cli('sample', '--class', 'sneaker,0', '--n', '2', '--steps', '1', '--out', join(d, 'g.png'));
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(existsSync(join(d, 'g.png')));
      const bad = await cli('sample', '--class', 'snekaer', '--steps', '1', '--out', join(d, 'h.png'));
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /did you mean 'Sneaker'/);
      assert.equal(existsSync(join(d, 'h.png')), false);
      const neg = await cli('sample', '--class', '-1', '--out', join(d, 'h.png'));
      assert.equal(neg.code, 2);
      assert.match(neg.stderr, /--class must be a list \(non-empty\) of class index >= 0 or a class name, found '-1'/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('diffuse samplers fits 100 columns and keeps every fact; --wide and NAME show the rest', async () => {
    const rows = algorithmRows();
    const table = formatTable(rows);
    for (const line of table.split('\n')) assert.ok(line.length <= TABLE_WIDTH, `${line.length} columns: ${line}`);
    const words = table.replace(/\s+/g, ' ');
    for (const r of rows) {
      assert.match(table, new RegExp(`^  ${r.name} `, 'm'), r.name);
      for (const alias of r.aliases) assert.ok(words.includes(alias), alias);
      assert.ok(words.includes(r.paper), r.paper);
      for (const v of [r.order, r.modelCallsPerStep, r.stochastic]) assert.ok(words.includes(v), `${r.name}: ${v}`);
    }
    const run = await cli('samplers');
    assert.equal(run.stdout, table);
    const wide = await cli('samplers', '--wide');
    assert.ok(wide.stdout.split('\n').some((l) => l.length > TABLE_WIDTH), 'the wide table is one line per method');
    const one = await cli('samplers', 'dpmsolver');
    assert.equal(one.code, 0);
    assert.match(one.stdout, /^name +DPMSolverMultistepScheduler\nalso +dpmsolver, dpmsolver_multistep\n/);
    const typo = await cli('samplers', 'dpmpp2m');
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown sampler 'dpmpp2m' \(did you mean 'dpmpp_2m'\?\)/);
  });
});
