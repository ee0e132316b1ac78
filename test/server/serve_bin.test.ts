/**
 * `diffuse serve` as a user starts it: the bin executed as a program (its #! line and all), as a
 * child process. Its answers carry the security headers, it answers only the loopback names and
 * --allowed-hosts (421 otherwise), refuses a foreign Origin on a POST; --host 0.0.0.0 is refused
 * without --allow-remote, and with it prints a warning and, given DIFFUSE_TOKEN, serves only
 * requests with the token; a short --token is refused with the command's error, not a stack.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { SECURITY_HEADERS } from '../../src/server/security_headers.js';
import { makeModelsDir, stop, waitOutput } from './helpers.js';

// The bin imports dist/, so this runs against the compiled CLI (npm test builds it first).
const bin = fileURLToPath(new URL('../../../bin/diffuse.js', import.meta.url));
const env: NodeJS.ProcessEnv = { ...process.env, DIFFUSE_THREADS: '1' };
delete env['DIFFUSE_TOKEN'];

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const URL_RE = /diffuse serve: http:\/\/\S+:(\d+)\//;

describe('diffuse serve through the bin: headers, Host allow-list, --allow-remote, --token', () => {
  const { dir } = makeModelsDir();

  it('answers with the security headers, only to the loopback names and --allowed-hosts, and refuses a foreign Origin', async () => {
    const p = spawn(bin, ['serve', '--port', '0', '--models', dir, '--allowed-hosts', 'diffuse.lan'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    try {
      const port = Number(URL_RE.exec(await waitOutput(p, URL_RE))![1]);
      for (const path of ['/', '/api/health', '/api/nope']) {
        const r = await get(port, path);
        for (const [k, v] of Object.entries(SECURITY_HEADERS)) assert.equal(r.headers[k], v, `${path}: ${k}`);
      }
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'diffuse.lan', `diffuse.lan:${port}`]) assert.equal((await get(port, '/api/health', { host })).status, 200, host);
      for (const host of ['evil.example', `evil.example:${port}`, 'rebind.127.0.0.1.nip.io']) {
        const r = await get(port, '/api/health', { host });
        assert.equal(r.status, 421, host);
        assert.match(r.text, /--allowed-hosts/);
      }
      const post = await get(port, '/api/generate', { origin: 'http://evil.example' }, 'POST', JSON.stringify({ model: 'tiny', steps: 2 }));
      assert.equal(post.status, 403);
    } finally {
      await stop(p);
    }
  });

  it('--host 0.0.0.0 needs --allow-remote; with it, a warning, and DIFFUSE_TOKEN is required of every request', async () => {
    const refused = spawnSync(bin, ['serve', '--host', '0.0.0.0', '--port', '0', '--models', dir], { encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /--host 0\.0\.0\.0 opens the server to the network.*Pass --allow-remote/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /); // no stack
    const token = 'abcdefabcdefabcdef0123456789';
    const p = spawn(bin, ['serve', '--host', '0.0.0.0', '--allow-remote', '--port', '0', '--models', dir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, DIFFUSE_TOKEN: token } });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const port = Number(URL_RE.exec(await waitOutput(p, URL_RE))![1]);
      assert.match(err, /warning: listening on 0\.0\.0\.0, open to the network; requests need the token/);
      assert.equal((await get(port, '/api/health')).status, 401);
      assert.equal((await get(port, '/api/health', { authorization: `Bearer ${token}` })).status, 200);
      assert.equal((await get(port, '/api/health', { host: 'evil.example', authorization: `Bearer ${token}` })).status, 421);
    } finally {
      await stop(p);
    }
  });

  it('serve and worker --help show the new flags (from the schema)', () => {
    const serve = spawnSync(bin, ['serve', '--help'], { encoding: 'utf8', env });
    for (const flag of ['--allow-remote', '--allowed-hosts NAMES', '--token TOKEN', '--job-timeout SECONDS', '--max-upload BYTES']) assert.ok(serve.stdout.includes(`  ${flag}`), flag);
    assert.match(serve.stdout, /DIFFUSE_TOKEN/);
    const worker = spawnSync(bin, ['worker', '--help'], { encoding: 'utf8', env });
    assert.ok(worker.stdout.includes('  --job-timeout SECONDS'), worker.stdout);
  });

  it('a short --token is refused with a message naming the flag', () => {
    const r = spawnSync(bin, ['serve', '--port', '0', '--models', dir, '--token', 'secret'], { encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--token must be at least 16 characters .*openssl rand -hex 16/);
  });
});
