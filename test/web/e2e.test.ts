/**
 * End to end in headless Chromium (Debian's chromium, driven by playwright-core; no browser
 * download): the page loads the models, Generate shows progress and previews then a timeline,
 * a mask painted on the inpaint canvas is sent with the image, and Cancel stops a running job.
 * Screenshots of each state go to a temporary folder, or to docs/ with DIFFUSE_SCREENSHOTS=docs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type DiffuseServer } from '../../src/server/app.js';
import { packageRoot } from '../../src/io/model_folder.js';
import { requireBinary } from '../server/helpers.js';

// Functions given to page.evaluate run in the page; this is the little of its DOM they use
// (the tests compile without the DOM library).
interface PageElement {
  value: string;
  textContent: string | null;
  src: string;
  width: number;
  height: number;
  options: { length: number };
  dispatchEvent(e: unknown): boolean;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
declare const document: { getElementById(id: string): PageElement | null };
declare const Event: new (type: string) => unknown;

const CHROMIUM = '/usr/bin/chromium';
const root = packageRoot();
const shots = process.env['DIFFUSE_SCREENSHOTS'] === 'docs' ? join(root, 'docs') : mkdtempSync(join(tmpdir(), 'diffuse-web-shots-'));
const VIEWPORTS = { laptop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } } as const;

describe('web page in headless Chromium', () => {
  let server: DiffuseServer;
  let base: string;
  let browser: Browser;

  before(async () => {
    requireBinary(CHROMIUM, 'chromium');
    // Build the page into a temporary folder (esbuild; a second or two).
    const webDir = mkdtempSync(join(tmpdir(), 'diffuse-web-'));
    const b = spawnSync(process.execPath, [join(root, 'src', 'web', 'build.mjs'), webDir], { encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    // The bundled Fashion-MNIST model, at few steps.
    const s = await startServer({ port: 0, modelsDir: join(root, 'models'), webDir, previewEvery: 1, limits: { queueSize: 4 } });
    server = s.server;
    base = s.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(viewport: { width: number; height: number }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => (document.getElementById('model')!).options.length > 0);
    assert.deepEqual(errors, []);
    return page;
  }

  const setRange = (page: Page, id: string, value: number) =>
    page.evaluate(([i, v]) => {
      const el = document.getElementById(i as string)!;
      el.value = String(v);
      el.dispatchEvent(new Event('input'));
    }, [id, value] as const);

  const shot = async (page: Page, name: string): Promise<void> => {
    const file = join(shots, `web-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 1000, file);
  };

  it("sends the model's sampling defaults exactly until a control is moved", async () => {
    const page = await open(VIEWPORTS.laptop);
    const { models } = (await (await fetch(`${base}/api/models`)).json()) as { models: { name: string; defaults: { guidance: number; sampler: string; steps: number } }[] };
    const defaults = models.find((m) => m.name === 'fashion-mnist')!.defaults;
    // Answer the generate request in the page without running it: only the body is checked.
    const bodies: Record<string, unknown>[] = [];
    await page.route('**/api/generate', async (route) => {
      bodies.push(JSON.parse(route.request().postData() ?? '{}') as Record<string, unknown>);
      await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'not run in this test' }) });
    });
    await page.click('#generate');
    await expectBodies(1);
    assert.equal(bodies[0]!['guidance'], defaults.guidance);
    assert.equal(bodies[0]!['steps'], defaults.steps);
    assert.equal(bodies[0]!['sampler'], defaults.sampler);
    assert.equal(await page.textContent('#guidance-out'), String(defaults.guidance));
    await setRange(page, 'guidance', 2.5);
    await page.click('#generate');
    await expectBodies(2);
    assert.equal(bodies[1]!['guidance'], 2.5);
    assert.equal(bodies[1]!['steps'], defaults.steps);
    await page.close();

    async function expectBodies(k: number): Promise<void> {
      for (let i = 0; i < 100 && bodies.length < k; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(bodies.length, k, 'the page sent the generate request');
    }
  });

  it('generates: live progress and previews, then a timeline to scrub', async () => {
    const page = await open(VIEWPORTS.laptop);
    assert.equal(await page.inputValue('#model'), 'fashion-mnist');
    assert.match(await page.textContent('#class') ?? '', /T-shirt\/top/);
    await shot(page, 'start-laptop');
    await setRange(page, 'steps', 8);
    await setRange(page, 'n', 4);
    await setRange(page, 'guidance', 2);
    await page.selectOption('#class', '7');
    await page.click('#generate');
    // Progress arrives over SSE with previews.
    await page.waitForFunction(() => /step \d+ \/ 8/.test(document.getElementById('live-step')!.textContent ?? ''));
    await page.waitForFunction(() => (document.getElementById('live-x0')!).src.startsWith('data:image/png'));
    await page.waitForFunction(() => document.getElementById('job-state')!.textContent === 'done', undefined, { timeout: 120_000 });
    // The state reads 'done' before the result is fetched and shown: wait for the images.
    await page.locator('#results img').nth(3).waitFor({ state: 'attached' });
    assert.equal(await page.locator('#results img').count(), 4);
    assert.equal(await page.textContent('#live-step'), 'step 8 / 8');
    assert.equal(await page.isVisible('#timeline'), true);
    assert.equal(await page.getAttribute('#timeline-slider', 'max'), '8');
    await setRange(page, 'timeline-slider', 4);
    assert.match((await page.textContent('#timeline-out')) ?? '', /^4 \/ 8$/);
    await shot(page, 'generate-laptop');
    await page.click('[data-tab=gallery]');
    assert.equal(await page.locator('#gallery img').count(), 4);
    assert.match((await page.getAttribute('#gallery a', 'href')) ?? '', /^\/api\/jobs\/[0-9a-f-]+\/images\/\d+\.png$/);
    await shot(page, 'gallery-laptop');

    // Inpaint: paint a mask on the last generated image.
    await page.click('[data-tab=inpaint]');
    await page.click('#inpaint-use-last');
    const box = (await page.locator('#mask-canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 8 });
    await page.mouse.up();
    // The stroke shows as red over the image.
    const red = await page.evaluate(() => {
      const c = document.getElementById('mask-canvas')!;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! > 120 && d[i + 1]! < 0.5 * d[i]!) n++;
      return n;
    });
    assert.ok(red > 10, `painted pixels: ${red}`);
    // The request carries the image and the painted mask.
    const sent = page.waitForRequest((r) => r.url().endsWith('/api/inpaint'));
    await page.click('#inpaint-run');
    const body = JSON.parse((await sent).postData() ?? '{}') as { image: string; mask: string };
    assert.match(body.image, /^data:image\/png;base64,/);
    assert.match(body.mask, /^data:image\/png;base64,/);
    // The inpaint job's own progress reaches its last step, then its result is shown.
    await page.waitForFunction(
      () => /^step (\d+) \/ \1$/.test(document.getElementById('inpaint-step')!.textContent ?? '') && document.getElementById('job-state')!.textContent === 'done',
      undefined,
      { timeout: 120_000 },
    );
    // The result is shown in the same task that adds it to the gallery (4 generated + 1).
    await page.locator('#gallery img').nth(4).waitFor({ state: 'attached' });
    assert.match((await page.getAttribute('#inpaint-result', 'src')) ?? '', /^data:image\/png/);
    await shot(page, 'inpaint-laptop');

    // Upscale the last generated image with the bundled SR3 model (x2: 14x14 in, 28x28 out).
    await page.click('[data-tab=edit]');
    await page.click('#edit-use-last');
    assert.equal(await page.inputValue('#upscale-model'), 'fashion-mnist-sr2');
    const upSent = page.waitForRequest((r) => r.url().endsWith('/api/upscale'));
    await page.click('#upscale-run');
    assert.equal((JSON.parse((await upSent).postData() ?? '{}') as { model: string }).model, 'fashion-mnist-sr2');
    await page.waitForFunction(() => document.getElementById('job-state')!.textContent === 'done' && /^step (\d+) \/ \1$/.test(document.getElementById('edit-step')!.textContent ?? ''), undefined, { timeout: 120_000 });
    await page.locator('#gallery img').nth(5).waitFor({ state: 'attached' });
    assert.match((await page.getAttribute('#edit-result', 'src')) ?? '', /^data:image\/png/);
    await shot(page, 'upscale-laptop');
    await page.close();
  });

  it('cancels a running job from the page', async () => {
    const page = await open(VIEWPORTS.laptop);
    await page.selectOption('#sampler', 'ddpm');
    await setRange(page, 'steps', 250);
    await setRange(page, 'n', 16);
    await page.click('#generate');
    await page.waitForFunction(() => /step \d+ \/ 250/.test(document.getElementById('live-step')!.textContent ?? ''));
    await page.click('#cancel');
    await page.waitForFunction(() => document.getElementById('job-state')!.textContent === 'cancelled', undefined, { timeout: 30_000 });
    const { jobs } = (await (await fetch(`${base}/api/jobs`)).json()) as { jobs: { state: string; params: { steps: number } }[] };
    assert.equal(jobs.find((j) => j.params.steps === 250)?.state, 'cancelled');
    assert.equal(await page.isDisabled('#cancel'), true);
    await shot(page, 'cancelled-laptop');
    await page.close();
  });

  it('is usable at phone width, and shows errors in the page', async () => {
    const page = await open(VIEWPORTS.phone);
    // One column: the settings sit above the work area.
    const settings = (await page.locator('#controls').boundingBox())!;
    const work = (await page.locator('.work').boundingBox())!;
    assert.ok(work.y >= settings.y + settings.height - 1, 'the work area is below the settings');
    assert.ok(settings.width <= VIEWPORTS.phone.width);
    await setRange(page, 'steps', 8);
    await page.click('#generate');
    await page.waitForFunction(() => document.getElementById('job-state')!.textContent === 'done', undefined, { timeout: 120_000 });
    await shot(page, 'generate-phone');
    await page.fill('#seed', '-5');
    await page.click('#generate');
    await page.waitForSelector('#error:not([hidden])');
    assert.match((await page.textContent('#error-text')) ?? '', /seed must be an integer/);
    await shot(page, 'error-phone');
    await page.close();
  });
});
