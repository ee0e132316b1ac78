/**
 * Load test of `diffuse serve` (`npm run bench:serve -- [--requests 200] [--connections 50]
 * [--queue 16] [--steps 10] [--out FILE]`): a server in its own process on loopback (bundled
 * model, in-process queue of 16), hit by autocannon with 200 generate requests from 50 concurrent
 * connections. Checks that the server does not crash, that requests beyond the queue get 429,
 * that every accepted job completes, and samples the server's resident memory (every 100 ms from
 * /proc) to show it stays bounded. Prints JSON and writes bench/results/serve.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { bundledModelsDir, packageRoot } from '../src/io/model_folder.js';

/** The part of autocannon's API used here (it ships no types). */
interface CannonResult {
  latency: { p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '200' },
    connections: { type: 'string', default: '50' },
    queue: { type: 'string', default: '16' },
    steps: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
  strict: true,
});
const requests = Number(values.requests);
const connections = Number(values.connections);
const queueSize = Number(values.queue);
const steps = Number(values.steps);
for (const [k, v] of Object.entries({ requests, connections, queueSize, steps })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, found ${String(v)}`);
}
const root = packageRoot();
const outFile = values.out ?? join(root, 'bench', 'results', 'serve.json');

/** Resident memory of a process in MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// The server: `diffuse serve` in a child process (the compiled CLI, or the source through tsx).
const fromSource = import.meta.url.endsWith('.ts');
const main = new URL(`../src/cli/main.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
const args = ['serve', '--port', '0', '--queue-size', String(queueSize), '--models', bundledModelsDir()];
const code = `import(${JSON.stringify(main)}).then(async (m) => { process.exitCode = await m.main(${JSON.stringify(args)}); })`;
const server = spawn(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
let exitCode: number | null = null;
server.on('exit', (c) => (exitCode = c ?? -1));
const base = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /(http:\/\/[\d.]+:\d+)\//.exec(out);
    if (m) resolve(m[1]!);
  });
  server.once('exit', () => reject(new Error(`the server exited before listening: ${out}`)));
});
const pid = server.pid!;
const rssStart = rssMiB(pid);
const samples: number[] = [];
const sampler = setInterval(() => {
  if (exitCode === null) samples.push(rssMiB(pid));
}, 100);

// The burst: every response's status and job id.
const statuses: Record<string, number> = {};
const accepted: string[] = [];
const body = JSON.stringify({ model: 'fashion-mnist', sampler: 'ddim', steps, n: 1, classLabel: 3, seed: 0 });
const t0 = performance.now();
const cannon = await autocannon({
  url: base,
  connections,
  amount: requests,
  timeout: 30,
  requests: [
    {
      method: 'POST',
      path: '/api/generate',
      headers: { 'content-type': 'application/json' },
      body,
      onResponse: (status: number, resBody: string) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 202) accepted.push((JSON.parse(resBody) as { id: string }).id);
      },
    },
  ],
});
const burstS = (performance.now() - t0) / 1000;

// Every accepted job must finish.
const final: Record<string, number> = {};
for (const id of accepted) {
  for (;;) {
    const j = (await (await fetch(`${base}/api/jobs/${id}`)).json()) as { state: string };
    if (['done', 'failed', 'cancelled'].includes(j.state)) {
      final[j.state] = (final[j.state] ?? 0) + 1;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
const allS = (performance.now() - t0) / 1000;
const health = await fetch(`${base}/api/health`).then((r) => r.status).catch((e: unknown) => {
  console.error(`health check failed: ${String((e as Error).cause ?? e)}`);
  return 0;
});
clearInterval(sampler);
// Alive and answering after the burst (checked before it is stopped below).
const alive = exitCode === null && health === 200;
const rssEnd = rssMiB(pid);
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));

const result = {
  bench: 'serve',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', loadavg1: Number(loadavg()[0]!.toFixed(2)) },
  setup: { requests, connections, queueSize, threads: 1, job: { model: 'fashion-mnist', sampler: 'ddim', steps, n: 1 } },
  http: { statuses, errors: cannon.errors, timeouts: cannon.timeouts, latencyMs: { p50: cannon.latency.p50, p99: cannon.latency.p99, max: cannon.latency.max }, burstSeconds: Number(burstS.toFixed(2)) },
  jobs: { accepted: accepted.length, final, allFinishedSeconds: Number(allS.toFixed(2)) },
  serverRssMiB: { start: Number(rssStart.toFixed(1)), peak: Number(Math.max(...samples, rssEnd).toFixed(1)), end: Number(rssEnd.toFixed(1)), samples: samples.length },
  serverAliveAfter: alive,
  checks: {
    noCrash: alive,
    rejectedBeyondQueue: (statuses[429] ?? 0) > 0 && (statuses[202] ?? 0) + (statuses[429] ?? 0) === requests,
    everyAcceptedDone: (final['done'] ?? 0) === accepted.length,
  },
};
const json = JSON.stringify(result, null, 2);
console.log(json);
mkdirSync(join(outFile, '..'), { recursive: true });
writeFileSync(outFile, json + '\n');
