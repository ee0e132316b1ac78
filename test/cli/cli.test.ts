import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { spawn } from 'node:child_process';
import { api, makeModelsDir, spawnDiffuse, stop, waitJob, waitOutput } from '../server/helpers.js';
import { fileURLToPath } from 'node:url';

// The bin script imports dist/, so this runs against the compiled CLI (npm test builds it first).
const bin = fileURLToPath(new URL('../../../bin/diffuse.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const runWithThreads = (threads: string, ...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, DIFFUSE_THREADS: threads } });

describe('diffuse CLI', () => {
  it('--help lists the commands', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    for (const cmd of ['info', 'demo', 'DIFFUSE_THREADS']) assert.ok(r.stdout.includes(cmd), cmd);
  });
  it('every command answers --help, info and demo included (they said "Unknown option \'--help\'")', () => {
    const info = run('info', '--help');
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /^diffuse info: .*\n\nUsage: diffuse info \[--json\]\n[\s\S]*--json +Print JSON instead of text\./);
    const demo = run('demo', '-h');
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(demo.stdout, /^diffuse demo: [\s\S]*--steps N +Training steps of the demo \(default: 200\)\./);
  });
  it('info prints the oneDNN version, ISA and threads; --json parses', () => {
    const r = run('info');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /oneDNN\s+[23]\.\d+\.\d+/);
    assert.match(r.stdout, /cpu isa\s+\S+/);
    assert.match(r.stdout, /threads\s+\d+/);
    const j = JSON.parse(run('info', '--json').stdout) as { threads: number };
    assert.ok(j.threads >= 1);
  });
  it("--threads means native threads only: 'serve --threads' (formerly its job concurrency) fails naming --concurrency", () => {
    const r = run('serve', '--threads', '2');
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /serve --threads was renamed --concurrency .*use --concurrency 2\. --threads now means native kernel threads everywhere .*DIFFUSE_THREADS/);
    const bad = run('serve', '--concurrency', '0');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--concurrency must be an integer >= 1, found '0'/);
    const redis = run('serve', '--concurrency', '2', '--queue', 'redis://127.0.0.1:1');
    assert.equal(redis.status, 2);
    assert.match(redis.stderr, /--concurrency applies to the local queue/);
    for (const cmd of ['serve', 'worker']) assert.match(run(cmd, '--help').stdout, /--concurrency N/);
    for (const cmd of ['train', 'train-classifier']) assert.match(run(cmd, '--help').stdout, /--threads N +native threads/);
    assert.doesNotMatch(run('serve', '--help').stdout, /^ +--threads/m);
  });
  it('serve started through the bin itself (its #! line adds --single-threaded-gc) runs a job on its compute thread', async () => {
    // Executed as a program, not through node: the shebang's V8 flag is inherited by the worker
    // threads, and Node refuses process-wide flags there (ERR_WORKER_INVALID_EXEC_ARGV).
    const { dir } = makeModelsDir();
    const p = spawn(bin, ['serve', '--port', '0', '--models', dir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DIFFUSE_THREADS: '1' } });
    try {
      const out = await waitOutput(p, /diffuse serve: (http:\/\/\S+)\//);
      const base = /diffuse serve: (http:\/\/\S+)\//.exec(out)![1]!;
      const r = await api(base, 'POST', '/api/generate', { model: 'tiny', steps: 2, n: 1 });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const job = await waitJob(base, (r.body['job'] as { id: string } | undefined)?.id ?? (r.body['id'] as string));
      assert.equal(job['state'], 'done', JSON.stringify(job));
    } finally {
      await stop(p);
    }
  });
  it('serve --concurrency N runs N jobs at once on the local queue', async () => {
    const p = spawnDiffuse(['serve', '--port', '0', '--concurrency', '2']);
    try {
      const out = await waitOutput(p, /diffuse serve: http/);
      assert.match(out, /queue: local, concurrency 2/);
    } finally {
      await stop(p);
    }
  });
  it('DIFFUSE_THREADS=abc or 0 fails with the value found and what is expected; 1 works', () => {
    for (const bad of ['abc', '0']) {
      for (const args of [['info'], ['samplers']]) {
        const r = runWithThreads(bad, ...args);
        assert.equal(r.status, 1, `${bad} ${args.join(' ')}: ${r.stdout}`);
        assert.ok(r.stderr.includes(`DIFFUSE_THREADS must be an integer >= 1 (the threads for oneDNN and the native kernels), found '${bad}'`), r.stderr);
      }
    }
    const ok = runWithThreads('1', 'info', '--json');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { threads: number }).threads, 1);
  });
  it('demo trains: the loss falls', () => {
    const r = run('demo', '--steps', '60');
    assert.equal(r.status, 0, r.stderr);
    const m = /fell from ([\d.]+) to ([\d.]+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[2]) < 0.8 * Number(m[1]), r.stdout);
  });
  it('bad input: unknown command and bad flags give clear errors and exit 2 (usage errors)', () => {
    const u = run('frobnicate');
    assert.equal(u.status, 2);
    assert.match(u.stderr, /unknown command 'frobnicate'/);
    const s = run('demo', '--steps', 'zero');
    assert.equal(s.status, 2);
    assert.match(s.stderr, /--steps must be an integer >= 1, found 'zero'/);
    const f = run('info', '--bogus');
    assert.equal(f.status, 2);
    assert.match(f.stderr, /bogus/);
  });
});
