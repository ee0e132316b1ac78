/**
 * The bundled web page under the server's Content-Security-Policy and token, in headless
 * Chromium (Debian's chromium through playwright-core, as test/web/e2e.test.ts): opened once
 * with ?token=, the page loads (script, style sheet), lists the models, generates (fetch, the
 * SSE stream, data: URL previews and results) and inpaints the result (a canvas read back with
 * toDataURL), with no CSP violation reported and no page error. The oracle for "the CSP lets the
 * page work" is the browser's own enforcement: a blocked script, style, image or connection
 * is a violation event and a page that does not finish.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { startServer, type DiffuseServer } from '../../src/server/app.js';
import { packageRoot } from '../../src/io/package_root.js';
import { makeModelsDir, requireBinary } from './helpers.js';

interface PageElement {
  textContent: string | null;
  src: string;
  naturalWidth: number;
  options: { length: number };
}
declare const document: { getElementById(id: string): PageElement | null; querySelectorAll(s: string): ArrayLike<PageElement>; addEventListener(type: string, fn: (e: { violatedDirective: string; blockedURI: string }) => void): void };
declare const window: { cspViolations: string[] };

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'page-token-0123456789abcdef';

describe('web page under the CSP, with a token', () => {
  let server: DiffuseServer;
  let base: string;
  let browser: Browser;

  before(async () => {
    requireBinary(CHROMIUM, 'chromium');
    const webDir = mkdtempSync(join(tmpdir(), 'diffuse-web-csp-'));
    const b = spawnSync(process.execPath, [join(packageRoot(), 'src', 'web', 'build.mjs'), webDir], { encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    const s = await startServer({ port: 0, modelsDir: makeModelsDir().dir, webDir, previewEvery: 1, token: TOKEN });
    server = s.server;
    base = s.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads with ?token= once, generates and inpaints, with no CSP violation', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const res = await page.goto(`${base}/?token=${TOKEN}`);
    assert.equal(res?.status(), 200);
    assert.equal(new URL(page.url()).search, '', 'the token is gone from the address');
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.waitForFunction(() => document.getElementById('model')!.options.length > 0);
    await page.selectOption('#model', 'tiny');
    await page.evaluate(() => {
      const steps = document.getElementById('steps') as unknown as { value: string; dispatchEvent(e: unknown): boolean };
      steps.value = '3';
      steps.dispatchEvent(new (globalThis as unknown as { Event: new (t: string) => unknown }).Event('input'));
    });
    await page.click('#generate');
    await page.waitForFunction(() => document.getElementById('job-state')!.textContent === 'done', undefined, { timeout: 60_000 });
    await page.locator('#results img').first().waitFor({ state: 'attached' });
    await page.waitForFunction(() => Array.from(document.querySelectorAll('#results img')).every((i) => i.naturalWidth > 0));
    // The styles applied (style.css loaded): the header is laid out by it, not the browser default.
    const styled = await page.evaluate(() => (globalThis as unknown as { getComputedStyle(e: unknown): { display: string } }).getComputedStyle(document.querySelectorAll('main')[0]).display);
    assert.notEqual(styled, 'block');
    // Inpaint the result: the canvas is drawn from a data: image and read back with toDataURL.
    await page.click('[data-tab=inpaint]');
    await page.click('#inpaint-use-last');
    const box = (await page.locator('#mask-canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 4 });
    await page.mouse.up();
    await page.click('#inpaint-run');
    await page.waitForFunction(() => (document.getElementById('inpaint-result')!.src ?? '').startsWith('data:image/png') && document.getElementById('job-state')!.textContent === 'done', undefined, { timeout: 60_000 });
    const violations = await page.evaluate(() => window.cspViolations);
    assert.deepEqual([...problems, ...violations], []);
    await page.close();
  });

  it('without the token the page is refused (401)', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 401);
    await ctx.close();
  });
});
