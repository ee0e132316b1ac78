/**
 * Every command of the README's shell blocks, run through the real bin (bin/diffuse.js executed
 * as a program, as a user types it) with small settings, in README order, in a temporary folder:
 * runs/... come from the README's own train commands before they are used, images the commands
 * read (boot.png, ...) are Fashion-MNIST test images written first. Each command is mapped to its
 * CI variant by the table CI below (which flags shrink, by subcommand); a README command with no
 * entry fails, so the README cannot drift from what CI runs. `diffuse serve` answers real HTTP
 * requests and runs a job; `diffuse serve --queue redis://...` with `diffuse worker` runs one job
 * end to end through a private redis-server. setup.sh and npm ci are not run: the README's test
 * command must be the one .ci/run runs, and npm scripts must exist.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readmeCommands, unlabelledCommands, type ShellCommand } from './helpers/readme_commands.js';
import { api, startRedis, stop, waitJob, waitOutput } from './server/helpers.js';
import { fashionMnist } from '../src/data/fashion_mnist.js';
import { writePng } from '../src/io/png.js';
import { tensor } from '../src/tensor/create.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'diffuse.js');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** A README command's words with `--flag=value` split, and edits by flag name. */
class Cmd {
  readonly words: string[];
  constructor(words: readonly string[]) {
    this.words = words.flatMap((w) => (/^--[\w-]+=/.test(w) ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w]));
  }
  get sub(): string {
    return this.words[1] ?? '';
  }
  has(flag: string): boolean {
    return this.words.includes(flag);
  }
  get(flag: string): string | undefined {
    const i = this.words.indexOf(flag);
    return i < 0 ? undefined : this.words[i + 1];
  }
  /** Sets a flag's value, adding the flag when the README command leaves it out. */
  set(flag: string, value: string): void {
    const i = this.words.indexOf(flag);
    if (i < 0) this.words.push(flag, value);
    else this.words[i + 1] = value;
  }
  /** Changes a flag's value only where the README command gives it. */
  shrink(flag: string, value: string): void {
    if (this.has(flag)) this.set(flag, value);
  }
}

// Small settings shared by the sampling commands.
const STEPS = '2';
const IMAGES = '2';
/** eval's smallest class-balanced sets: one image per Fashion-MNIST class. */
const EVAL_N = '10';

/**
 * The CI variant of each subcommand: what shrinks (steps, images, batch, training length). Every
 * subcommand the README uses must be here; what a command writes goes to the temporary folder
 * because it runs there.
 */
/**
 * The predictor-corrector sampler on a VP SDE needs more than beta_max = 20 steps (its discrete
 * betas are beta_max / N; fewer is a clear error, as it should be).
 */
const PC_STEPS = '21';
const isPc = (c: Cmd): boolean => c.get('--sde-sampler') === 'pc' || c.get('--scheduler') === 'pc' || c.get('--method') === 'sde-pc';

/** The command's --data is a bundled dataset (not a folder of the user's). */
const isBundled = (c: Cmd): boolean => c.get('--data') === 'fashion-mnist' || c.get('--data') === 'mnist';

const CI: Record<string, (c: Cmd) => void> = {
  '--help': () => {},
  info: () => {},
  samplers: () => {},
  plot: () => {},
  demo: (c) => c.set('--steps', STEPS),
  // Training: 2 steps of 4 images (3 when it resumes the 2-step run, so the resume trains).
  train: (c) => {
    c.set('--steps', c.has('--resume') ? '3' : '2');
    c.set('--batch', '4');
  },
  'train-classifier': (c) => {
    c.set('--steps', '2');
    c.set('--batch', '4');
  },
  'train-feature-net': (c) => {
    c.set('--steps', '2');
    c.set('--batch', '8');
    // A folder's accuracy is on its held-out reference (--accuracy-n is the bundled datasets').
    if (isBundled(c)) c.set('--accuracy-n', EVAL_N);
  },
  sample: (c) => {
    // The ODE sampler is adaptive: it takes tolerances, not steps (the loosest: about 15 calls).
    if (c.get('--sde-sampler') === 'ode') {
      c.set('--rtol', '1');
      c.set('--atol', '1');
    } else c.set('--steps', isPc(c) ? PC_STEPS : STEPS);
    c.set('--n', IMAGES);
  },
  inpaint: (c) => {
    // RePaint jumps back --jump-length steps: it needs more steps than one jump.
    c.set('--steps', c.has('--jump-length') ? '4' : isPc(c) ? PC_STEPS : STEPS);
    c.shrink('--jump-length', '2');
    c.shrink('--jump-n-sample', '2');
    c.shrink('--n', IMAGES);
  },
  img2img: (c) => {
    c.set('--steps', STEPS);
    c.shrink('--n', IMAGES);
  },
  augment: (c) => {
    c.set('--per-class', '1');
    c.set('--steps', STEPS);
  },
  explain: (c) => {
    c.set('--steps', STEPS);
    c.shrink('--n', IMAGES);
    c.set('--loss-images', '2');
    c.set('--bins', '2');
  },
  upscale: (c) => {
    c.set('--steps', STEPS);
    if (c.has('--eval')) c.set('--n', IMAGES);
  },
  eval: (c) => {
    if (c.has('--bpd')) {
      c.set('--n', c.get('--method') === 'ode' ? '1' : IMAGES);
      if (c.get('--method') === 'ode') {
        c.set('--rtol', '1');
        c.set('--atol', '1');
      } else c.set('--timesteps-per-image', '2');
      return;
    }
    // Sample quality: 10 samples (or real/folder images) against 10 test images (a folder's: its
    // held-out reference), 2 CAS steps.
    if (!c.has('--samples')) c.set('--n', EVAL_N);
    if (!c.has('--samples') && !c.has('--real')) c.set('--steps', STEPS);
    if (isBundled(c)) c.set('--test-n', EVAL_N);
    c.set('--cas-steps', '2');
  },
  // Long-running: started on a free port, asked real requests, stopped (see runServe).
  serve: (c) => c.set('--port', '0'),
  worker: () => {},
};

/** Paths a command writes: they must exist after it succeeds. */
const OUTPUT_FLAGS = ['--out', '--grid', '--plot', '--compare', '--animate', '--per-image', '--json'];

/** A temporary working folder laid out like the checkout for the README's relative paths. */
function makeWorkspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'diffuse-readme-'));
  // models/: the bundled models, linked; feature-nets/ a real folder, so a README command that
  // writes models/feature-nets/<data> writes here and never into the checkout.
  mkdirSync(join(ws, 'models', 'feature-nets'), { recursive: true });
  for (const name of readdirSync(join(root, 'models'))) if (name !== 'feature-nets') symlinkSync(join(root, 'models', name), join(ws, 'models', name));
  symlinkSync(join(root, 'configs'), join(ws, 'configs'));
  mkdirSync(join(ws, 'docs'));
  return ws;
}

/** The input files README commands read: Fashion-MNIST test images, an image folder, a U-Net config. */
async function writeInputs(ws: string): Promise<void> {
  const test = fashionMnist('test');
  const perClass = test.length / 10;
  const image = (label: number, k = 0) => test.get(label * perClass + k).image; // (28, 28, 1)
  const png = (file: string, pixels: Float32Array, size: number) => writePng(join(ws, file), tensor(pixels, [size, size, 1]));
  await png('boot.png', image(9), 28);
  await png('sneaker.png', image(7), 28);
  await png('in.png', image(0), 28);
  // low.png: 14x14, area-downsampled as `diffuse train --task superres --scale 2` does.
  const full = image(3);
  const low = new Float32Array(14 * 14);
  for (let y = 0; y < 14; y++) for (let x = 0; x < 14; x++) low[y * 14 + x] = (full[2 * y * 28 + 2 * x]! + full[2 * y * 28 + 2 * x + 1]! + full[(2 * y + 1) * 28 + 2 * x]! + full[(2 * y + 1) * 28 + 2 * x + 1]!) / 4;
  await png('low.png', low, 14);
  // ./my_images: DIR/<class>/*.png, two classes of ten images (eval --data splits each 6/2/2).
  for (const [name, label] of [['boot', 9], ['sneaker', 7]] as const) {
    mkdirSync(join(ws, 'my_images', name), { recursive: true });
    for (let k = 0; k < 10; k++) await png(join('my_images', name, `${k}.png`), image(label, k), 28);
  }
  // unet.json: a tiny class-conditional U-Net for the image folder (2 classes + the null class).
  writeFileSync(join(ws, 'unet.json'), JSON.stringify({
    sample_size: 8, in_channels: 1, out_channels: 1, block_out_channels: [8, 16], down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D'], layers_per_block: 1, norm_num_groups: 4, attention_head_dim: 8, num_class_embeds: 3,
  }));
}

/**
 * The environment of every command: the bin's `#!/usr/bin/env node` finds this node, and one
 * native thread (as the other CLI tests): these tiny workloads gain nothing from two, and on a
 * loaded machine OpenMP threads waiting on each other made them 3x slower.
 */
const env: Record<string, string | undefined> = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, DIFFUSE_THREADS: '1' };

/** Starts `diffuse <args>` through the bin in `cwd`. */
function startBin(args: string[], cwd: string): ChildProcess {
  return spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `diffuse <args>` through the bin to its end; its exit code, signal and output. */
async function runBin(args: string[], cwd: string, timeoutMs = 300_000): Promise<{ code: number | null; signal: string | null; output: string }> {
  const p = startBin(args, cwd);
  let output = '';
  p.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => p.once('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { code, signal, output };
}

/** The URL `diffuse serve` prints once it listens. */
async function serverUrl(p: ChildProcess): Promise<string> {
  const out = await waitOutput(p, /diffuse serve: (http:\/\/\S+?)\/?\s/, 120_000);
  // A server on every address (--host 0.0.0.0) is reached as a client on this machine would: through loopback.
  return /diffuse serve: (http:\/\/\S+?)\/?\s/.exec(out)![1]!.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
}

/** What a client sends: the bearer token when the README exported one (DIFFUSE_TOKEN), as a user's curl would. */
function auth(): Record<string, string> {
  const token = env['DIFFUSE_TOKEN'];
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** `export NAME=VALUE` as the README's shell would run it: the value goes into every later command's environment. */
function runExport(c: ShellCommand): void {
  const name = /^export ([A-Za-z_][A-Za-z0-9_]*)=/.exec(c.text)?.[1];
  assert.ok(name !== undefined, `README line ${c.line}: '${c.text}' is not 'export NAME=VALUE'`);
  const r = spawnSync('sh', ['-c', `${c.text}; printf %s "$${name}"`], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, `README line ${c.line}: '${c.text}' failed: ${r.stderr}`);
  assert.ok(r.stdout !== '', `README line ${c.line}: '${c.text}' set ${name} to nothing`);
  env[name] = r.stdout;
}

/** One generate job through a server's API, to the end: its final state. */
async function oneJob(base: string): Promise<Record<string, unknown>> {
  const r = await api(base, 'POST', '/api/generate', { model: 'fashion-mnist', steps: 2, n: 1, seed: 0 }, auth());
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return waitJob(base, r.body['id'] as string, 180_000, auth());
}

/** Files under `dir` (not following links) modified after `since` (ms). */
function modifiedSince(dir: string, since: number): string[] {
  if (!existsSync(dir)) return [];
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) return [];
  if (!st.isDirectory()) return st.mtimeMs > since ? [dir] : [];
  return readdirSync(dir).flatMap((name) => modifiedSince(join(dir, name), since));
}

describe('readmeCommands: the shell commands of Markdown, as a user copies them', () => {
  it('joins continuation lines, drops comments, splits &&, keeps quoted words, labels and unlabelled blocks', () => {
    const md = [
      'text', '```sh', 'diffuse sample --model runs/fm \\', '  --out "a b.png"   # a comment', '# only a comment', '', './setup.sh && npm test', '```',
      '```', 'diffuse serve --port 8080', 'not a command', '```', '```ts', "import x from 'diffuse';", '```',
    ].join('\n');
    const got = readmeCommands(md);
    assert.deepEqual(got.map((c) => [c.line, c.words]), [
      [3, ['diffuse', 'sample', '--model', 'runs/fm', '--out', 'a b.png']],
      [7, ['./setup.sh']],
      [7, ['npm', 'test']],
    ]);
    assert.equal(got[2]!.chain, './setup.sh && npm test');
    assert.deepEqual(unlabelledCommands(md), [{ line: 10, text: 'diffuse serve --port 8080' }]);
    assert.throws(() => readmeCommands('```sh\ndiffuse info \\\n```'), /ends in a continuation line/);
    assert.throws(() => readmeCommands('```sh\ndiffuse info'), /never closed/);
  });
});

describe('README commands (through bin/diffuse.js, small settings)', () => {
  const commands = readmeCommands(readme);
  let ws: string;
  let redis: Awaited<ReturnType<typeof startRedis>> | null = null;
  /** A `diffuse serve --queue redis://...` waiting for the README's worker command. */
  let queued: { proc: ChildProcess; base: string; line: number } | null = null;
  const started = Date.now();
  const timings: string[] = [];

  before(async () => {
    ws = makeWorkspace();
    // eval --data DIR trains its feature net into the cache: the workspace's, not the user's.
    env['DIFFUSE_CACHE'] = join(ws, '.cache');
    await writeInputs(ws);
  });
  after(async () => {
    if (queued !== null) await stop(queued.proc);
    await redis?.kill();
    if (timings.length > 0) process.stderr.write(`README commands, seconds each:\n${timings.join('\n')}\n`);
  });

  it('the README has shell commands, and none hide in unlabelled blocks', () => {
    assert.ok(commands.length >= 30, `only ${commands.length} commands found in README.md`);
    assert.deepEqual(unlabelledCommands(readme), [], 'label these blocks ```sh so they are tested');
  });

  it("the README's test command is what .ci/run runs; setup.sh exists; npm scripts exist", () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const ciLines = readFileSync(join(root, '.ci', 'run'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#') && !/^(set|cd) /.test(l));
    const npmCommands = commands.filter((c) => c.words[0] === 'npm' || c.words[0] === 'export' || c.words[0]!.startsWith('./'));
    assert.ok(npmCommands.some((c) => c.text === 'npm test'), 'the README names no `npm test`');
    for (const c of npmCommands) {
      if (c.text === 'npm test') {
        assert.deepEqual(ciLines, [c.chain], `README line ${c.line}: the test command '${c.chain}' is not what .ci/run runs (${JSON.stringify(ciLines)})`);
      } else if (c.words[0] === 'npm' && c.words[1] === 'run') {
        const script = c.words[2]!;
        assert.ok(pkg.scripts[script] !== undefined, `README line ${c.line}: npm script '${script}' is not in package.json`);
        // Benchmarks are not run in tests (timings, minutes of work): their entry point must exist.
        const entry = /^node (\S+)/.exec(pkg.scripts[script]!)?.[1];
        assert.ok(script.startsWith('bench') && entry !== undefined && existsSync(join(root, entry)), `README line ${c.line}: '${c.text}' has no CI mapping (only benchmark scripts, checked to exist, are not run)`);
      } else if (c.words[0] === 'export') {
        assert.match(c.text, /^export [A-Za-z_][A-Za-z0-9_]*=/, `README line ${c.line}: '${c.text}' is not 'export NAME=VALUE'`);
      } else if (c.words[0]!.startsWith('./')) {
        const file = join(root, c.words[0]!);
        assert.ok(existsSync(file), `README line ${c.line}: ${c.words[0]} does not exist`);
        accessSync(file, constants.X_OK);
      } else {
        assert.fail(`README line ${c.line}: '${c.text}' has no CI mapping`);
      }
    }
  });

  for (const command of commands.filter((c) => c.words[0] === 'diffuse' || c.words[0] === 'export')) {
    it(`line ${command.line}: ${command.text}`, async () => {
      if (command.words[0] === 'export') return runExport(command);
      const c = new Cmd(command.words);
      const rewrite = CI[c.sub];
      assert.ok(rewrite !== undefined, `README line ${command.line}: 'diffuse ${c.sub}' has no CI mapping in test/readme_commands.test.ts (add its small settings to CI)`);
      rewrite(c);
      const args = c.words.slice(1);
      const t0 = Date.now();
      if (c.sub === 'serve' || c.sub === 'worker') await runServer(command, c);
      else {
        const r = await runBin(args, ws);
        assert.equal(r.signal, null, `diffuse ${args.join(' ')} was killed by ${r.signal}:\n${r.output}`);
        assert.equal(r.code, 0, `diffuse ${args.join(' ')} failed (exit ${r.code}):\n${r.output}`);
        for (const flag of OUTPUT_FLAGS) {
          const out = c.get(flag);
          if (out !== undefined) assert.ok(existsSync(join(ws, out)), `diffuse ${args.join(' ')}: ${flag} ${out} was not written`);
        }
        // The quick-run flags the CI variants use did what they say.
        if (c.sub === 'train-feature-net' && isBundled(c)) {
          const metrics = JSON.parse(readFileSync(join(ws, c.get('--out')!, 'metrics.json'), 'utf8')) as { accuracy_images: number; recipe: { steps: number } };
          assert.deepEqual([metrics.accuracy_images, metrics.recipe.steps], [Number(EVAL_N), 2]);
        }
        if (c.sub === 'eval' && !c.has('--bpd') && c.has('--out') && isBundled(c)) {
          const report = JSON.parse(readFileSync(join(ws, c.get('--out')!), 'utf8')) as { testImages: number; n: number };
          assert.deepEqual([report.testImages, report.n], [Number(EVAL_N), Number(EVAL_N)]);
        }
      }
      timings.push(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}  line ${command.line}: diffuse ${args.join(' ')}`);
    });
  }

  /** serve alone: a request and a job, then stop. serve --queue redis: waits for the worker command. */
  async function runServer(command: ShellCommand, c: Cmd): Promise<void> {
    const queue = c.get('--queue');
    if (queue?.startsWith('redis://') === true) {
      redis ??= await startRedis();
      c.set('--queue', redis.url);
    }
    const argv = c.words.slice(1);
    if (c.sub === 'worker') {
      assert.ok(queued !== null, `README line ${command.line}: '${command.text}' needs a 'diffuse serve --queue redis://...' before it`);
      const worker = startBin(argv, ws);
      try {
        await waitOutput(worker, /ready/, 120_000);
        const job = await oneJob(queued.base);
        assert.equal(job['state'], 'done', JSON.stringify(job));
      } finally {
        await stop(worker);
        await stop(queued.proc);
        queued = null;
      }
      return;
    }
    const p = startBin(argv, ws);
    const base = await serverUrl(p).catch(async (e: unknown) => {
      await stop(p);
      throw e;
    });
    if (queue?.startsWith('redis://') === true) {
      const health = await api(base, 'GET', '/api/health', undefined, auth());
      assert.equal((health.body['queue'] as { mode?: string } | undefined)?.mode, 'redis', JSON.stringify(health.body));
      queued = { proc: p, base, line: command.line };
      return;
    }
    try {
      const samplers = await api(base, 'GET', '/api/samplers', undefined, auth());
      assert.equal(samplers.status, 200);
      assert.ok(JSON.stringify(samplers.body).includes('dpmpp_2m'), JSON.stringify(samplers.body));
      const job = await oneJob(base);
      assert.equal(job['state'], 'done', JSON.stringify(job));
      const png = await fetch(`${base}/api/jobs/${job['id'] as string}/images/0.png`, { headers: auth() });
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
    } finally {
      await stop(p);
    }
  }

  it('every diffuse serve --queue redis:// was followed by its worker; nothing was written into the checkout', () => {
    assert.equal(queued, null, `README line ${queued?.line}: 'diffuse serve --queue redis://...' has no 'diffuse worker' after it`);
    const changed = ['models', 'docs', 'configs'].flatMap((d) => modifiedSince(join(root, d), started));
    assert.deepEqual(changed, [], 'README commands in CI must write only into their temporary folder');
  });
});
