/**
 * The diffuse web page: a thin client of the HTTP API (src/server/app.ts). It queues jobs, follows
 * them over Server-Sent Events (step counter and previews of x_t and the predicted x_0), and shows
 * results: a timeline over the reverse process, an inpainting mask painted on a canvas, upscale
 * and img2img of uploads, the forward process at any t with its SNR, and a gallery with downloads.
 * Bundled by esbuild (src/web/build.mjs) into dist/web/app.js.
 */
import { formatSlider, samplingRequest, UNTOUCHED, type Touched } from './sampling_request.js';

interface ModelInfo {
  name: string;
  task: 'generate' | 'superres';
  scale: number | null;
  sampleSize: [number, number] | null;
  channels: number;
  numClasses: number;
  guidance: boolean;
  defaults: { guidance: number; sampler: string | null; steps: number | null };
  classNames: string[] | null;
  scheduler: { numTrainTimesteps: number } | null;
}

interface JobView {
  id: string;
  kind: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  error: string | null;
}

interface Progress {
  step: number;
  total: number;
  preview?: { xt: string; x0: string };
}

interface Result {
  images: string[];
  grid: string;
  classLabels: number[] | null;
  timeline?: { stepIndex: number[]; timesteps: number[]; xt: string[]; x0: string[] };
  forward?: { t: number[]; snr: number[]; alphaBar: number[]; frames: string[] };
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page element #${id} is missing`);
  return el as T;
};

// ---- errors and status ----------------------------------------------------------------------

function showError(message: string): void {
  $('error-text').textContent = message;
  $('error').hidden = false;
}
$('error-close').addEventListener('click', () => ($('error').hidden = true));

function setStatus(text: string): void {
  $('status').textContent = text;
}

/** Calls the API; a non-2xx answer throws its `error` message. */
async function api<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new Error('the server cannot be reached');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: use the text
  }
  if (!res.ok) {
    const msg = json !== null && typeof json === 'object' && 'error' in json ? String((json as { error: unknown }).error) : text || res.statusText;
    throw new Error(`${res.status === 429 ? 'Busy: ' : ''}${msg}`);
  }
  return json as T;
}

// ---- settings -------------------------------------------------------------------------------

let models: ModelInfo[] = []; // generation models (the model picker)
const model = (): ModelInfo => {
  const m = models.find((x) => x.name === $<HTMLSelectElement>('model').value);
  if (m === undefined) throw new Error('no model selected');
  return m;
};

function bindOutput(id: string, fmt: (v: number) => string = String): void {
  const input = $<HTMLInputElement>(id);
  const out = $(`${id}-out`);
  const update = (): void => {
    out.textContent = fmt(Number(input.value));
  };
  input.addEventListener('input', update);
  update();
}

/** The sampling controls the user moved since the model was chosen (onModelChange resets it). */
let touched: Touched = { ...UNTOUCHED };
/** True while onModelChange sets the controls to the model's defaults (not the user moving them). */
let applyingDefaults = false;
for (const [id, key, event] of [['guidance', 'guidance', 'input'], ['steps', 'steps', 'input'], ['sampler', 'sampler', 'change']] as const) {
  $(id).addEventListener(event, () => {
    if (!applyingDefaults) touched = { ...touched, [key]: true };
  });
}

function onModelChange(): void {
  applyingDefaults = true;
  try {
    applyModelDefaults();
  } finally {
    applyingDefaults = false;
  }
  touched = { ...UNTOUCHED };
}

function applyModelDefaults(): void {
  const m = model();
  const cls = $<HTMLSelectElement>('class');
  cls.innerHTML = '';
  const opts: [string, string][] = m.numClasses === 0 ? [['', 'none (unconditional)']] : [['', 'mixed (0, 1, 2, …)'], ...Array.from({ length: m.numClasses }, (_, i) => [String(i), `${i}: ${m.classNames?.[i] ?? `class ${i}`}`] as [string, string])];
  for (const [v, label] of opts) cls.add(new Option(label, v));
  if (m.numClasses > 0) cls.value = '0';
  const g = $<HTMLInputElement>('guidance');
  g.disabled = !m.guidance;
  // The model's sampling_config.json: its guidance, sampler and steps.
  g.value = String(m.guidance ? m.defaults.guidance : 1);
  g.dispatchEvent(new Event('input'));
  // The slider may snap a default between its steps; the output shows (and the request sends) the default itself.
  if (m.guidance) $('guidance-out').textContent = formatSlider(m.defaults.guidance);
  if (m.defaults.sampler !== null) $<HTMLSelectElement>('sampler').value = m.defaults.sampler;
  if (m.defaults.steps !== null) {
    const steps = $<HTMLInputElement>('steps');
    steps.value = String(m.defaults.steps);
    steps.dispatchEvent(new Event('input'));
  }
  resetMask();
}

function sampling(): Record<string, unknown> {
  const cls = $<HTMLSelectElement>('class').value;
  const seed = Number($<HTMLInputElement>('seed').value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) throw new Error(`the seed must be an integer in [0, 4294967295], found '${$<HTMLInputElement>('seed').value}'`);
  // Controls left alone send the model's defaults exactly (sampling_request.ts).
  return {
    ...samplingRequest(
      model(),
      {
        sampler: $<HTMLSelectElement>('sampler').value,
        steps: Number($<HTMLInputElement>('steps').value),
        guidance: Number($<HTMLInputElement>('guidance').value),
        classLabel: cls === '' ? null : Number(cls),
        seed,
      },
      touched,
    ),
  };
}

// ---- jobs -----------------------------------------------------------------------------------

let currentJob: string | null = null;

/** Queues a job and follows it to its end; resolves with the result (null if cancelled). */
async function runJob(kind: string, body: unknown, onProgress: (p: Progress) => void): Promise<{ job: JobView; result: Result | null }> {
  const job = await api<JobView>(`/api/${kind}`, body);
  currentJob = job.id;
  $<HTMLButtonElement>('cancel').disabled = false;
  try {
    const final = await new Promise<JobView>((resolve, reject) => {
      const es = new EventSource(`/api/jobs/${job.id}/events`);
      es.addEventListener('progress', (e) => onProgress(JSON.parse((e as MessageEvent<string>).data) as Progress));
      es.addEventListener('state', (e) => {
        const s = JSON.parse((e as MessageEvent<string>).data) as { state: JobView['state']; error?: string };
        $('job-state').textContent = s.state;
        if (s.state === 'done' || s.state === 'failed' || s.state === 'cancelled') {
          es.close();
          resolve({ ...job, state: s.state, error: s.error ?? null });
        }
      });
      es.onerror = () => {
        if (es.readyState === EventSource.CLOSED) reject(new Error('lost the progress stream'));
      };
    });
    if (final.state === 'failed') throw new Error(`the ${kind} job failed: ${final.error ?? 'unknown error'}`);
    if (final.state === 'cancelled') return { job: final, result: null };
    const { result } = await api<{ result: Result }>(`/api/jobs/${job.id}/result`);
    addToGallery(job.id, kind, result);
    return { job: final, result };
  } finally {
    if (currentJob === job.id) currentJob = null;
    $<HTMLButtonElement>('cancel').disabled = true;
  }
}

/** Runs `fn`, showing its error in the page and disabling `button` meanwhile. */
function action(button: string, fn: () => Promise<void>): void {
  const b = $<HTMLButtonElement>(button);
  b.addEventListener('click', () => {
    $('error').hidden = true;
    b.disabled = true;
    fn()
      .catch((e: unknown) => showError((e as Error).message))
      .finally(() => (b.disabled = false));
  });
}

// ---- generate ---------------------------------------------------------------------------------

let lastImage: string | null = null;
let timeline: Result['timeline'] | null = null;

function showTimeline(i: number): void {
  if (!timeline) return;
  $<HTMLImageElement>('live-xt').src = timeline.xt[i]!;
  $<HTMLImageElement>('live-x0').src = timeline.x0[i]!;
  $('timeline-out').textContent = `${timeline.stepIndex[i]} / ${timeline.stepIndex.at(-1)}`;
  const t = timeline.timesteps[i]!;
  $('timeline-t').textContent = t < 0 ? 'end' : String(Math.round(t));
}

action('generate', async () => {
  const body = { ...sampling(), n: Number($<HTMLInputElement>('n').value) };
  $('timeline').hidden = true;
  $('results').innerHTML = '';
  const bar = $<HTMLProgressElement>('progress');
  bar.value = 0;
  const { result } = await runJob('generate', body, (p) => {
    bar.max = p.total;
    bar.value = p.step;
    $('live-step').textContent = `step ${p.step} / ${p.total}`;
    if (p.preview) {
      $<HTMLImageElement>('live-xt').src = p.preview.xt;
      $<HTMLImageElement>('live-x0').src = p.preview.x0;
    }
  });
  if (result === null) return;
  lastImage = result.images[0] ?? null;
  for (const [i, src] of result.images.entries()) {
    const img = new Image();
    img.src = src;
    img.title = result.classLabels ? `class ${result.classLabels[i]}` : `image ${i}`;
    img.addEventListener('click', () => (lastImage = src));
    const fig = document.createElement('figure');
    fig.append(img);
    $('results').append(fig);
  }
  if (result.timeline) {
    timeline = result.timeline;
    const s = $<HTMLInputElement>('timeline-slider');
    s.max = String(timeline.xt.length - 1);
    s.value = s.max;
    $('timeline').hidden = false;
    showTimeline(timeline.xt.length - 1);
  }
});
$('timeline-slider').addEventListener('input', (e) => showTimeline(Number((e.target as HTMLInputElement).value)));
$('cancel').addEventListener('click', () => {
  if (currentJob === null) return;
  api(`/api/jobs/${currentJob}/cancel`, {}).catch((e: unknown) => showError((e as Error).message));
});

// ---- inpaint: paint a mask over an image ----------------------------------------------------

const canvas = $<HTMLCanvasElement>('mask-canvas');
const mask = document.createElement('canvas'); // white where the model repaints
let inpaintSource: HTMLImageElement | null = null;
let inpaintSourceUrl: string | null = null;

function resetMask(): void {
  const [h, w] = models.length > 0 ? (model().sampleSize ?? [28, 28]) : [28, 28];
  for (const c of [canvas, mask]) {
    c.width = w;
    c.height = h;
  }
  const m = mask.getContext('2d')!;
  m.fillStyle = '#000';
  m.fillRect(0, 0, w, h);
  redraw();
}

function redraw(): void {
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#111';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (inpaintSource) ctx.drawImage(inpaintSource, 0, 0, canvas.width, canvas.height);
  // The mask in translucent red over the image.
  const m = mask.getContext('2d')!.getImageData(0, 0, mask.width, mask.height);
  const over = ctx.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < m.data.length; i += 4) {
    if (m.data[i]! > 127) {
      over.data[i] = Math.round(over.data[i]! * 0.4 + 255 * 0.6);
      over.data[i + 1] = Math.round(over.data[i + 1]! * 0.4);
      over.data[i + 2] = Math.round(over.data[i + 2]! * 0.4);
    }
  }
  ctx.putImageData(over, 0, 0);
}

async function loadImage(src: string): Promise<HTMLImageElement> {
  const img = new Image();
  img.src = src;
  await img.decode().catch(() => {
    throw new Error('that file is not an image the browser can read (use PNG or JPEG)');
  });
  return img;
}

async function setInpaintSource(src: string): Promise<void> {
  inpaintSource = await loadImage(src);
  inpaintSourceUrl = src;
  redraw();
}

let painting = false;
function paint(e: PointerEvent): void {
  const r = canvas.getBoundingClientRect();
  // The canvas is letterboxed by object-fit: contain; map through the drawn square.
  const side = Math.min(r.width, r.height);
  const x = ((e.clientX - r.left - (r.width - side) / 2) / side) * canvas.width;
  const y = ((e.clientY - r.top - (r.height - side) / 2) / side) * canvas.height;
  const m = mask.getContext('2d')!;
  m.fillStyle = '#fff';
  m.beginPath();
  m.arc(x, y, Number($<HTMLInputElement>('brush').value) / 2 + 0.5, 0, 2 * Math.PI);
  m.fill();
  redraw();
}
canvas.addEventListener('pointerdown', (e) => {
  painting = true;
  canvas.setPointerCapture(e.pointerId);
  paint(e);
});
canvas.addEventListener('pointermove', (e) => painting && paint(e));
canvas.addEventListener('pointerup', () => (painting = false));
$('mask-clear').addEventListener('click', resetMask);

function readFile(input: HTMLInputElement): Promise<string> {
  const file = input.files?.[0];
  if (!file) return Promise.reject(new Error('no file chosen'));
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(new Error(`could not read ${file.name}`));
    r.readAsDataURL(file);
  });
}

const useLast = (): string => {
  if (lastImage === null) throw new Error('generate an image first (or upload one)');
  return lastImage;
};

$('inpaint-file').addEventListener('change', (e) => {
  readFile(e.target as HTMLInputElement).then(setInpaintSource).catch((err: unknown) => showError((err as Error).message));
});
action('inpaint-use-last', async () => setInpaintSource(useLast()));
action('inpaint-run', async () => {
  if (inpaintSourceUrl === null) throw new Error('choose an image to inpaint first (upload, or use the last generated)');
  const body = { ...sampling(), image: inpaintSourceUrl, mask: mask.toDataURL('image/png') };
  const { result } = await runJob('inpaint', body, (p) => {
    $('inpaint-step').textContent = `step ${p.step} / ${p.total}`;
    if (p.preview) $<HTMLImageElement>('inpaint-result').src = p.preview.x0;
  });
  if (result) $<HTMLImageElement>('inpaint-result').src = result.images[0]!;
});

// ---- upscale and img2img ----------------------------------------------------------------------

let editSource: string | null = null;
function setEditSource(src: string): void {
  editSource = src;
  $<HTMLImageElement>('edit-source').src = src;
}
$('edit-file').addEventListener('change', (e) => {
  readFile(e.target as HTMLInputElement).then(setEditSource).catch((err: unknown) => showError((err as Error).message));
});
action('edit-use-last', async () => setEditSource(useLast()));
bindOutput('strength', (v) => v.toFixed(2));
for (const kind of ['img2img', 'upscale'] as const) {
  action(`${kind}-run`, async () => {
    if (editSource === null) throw new Error('choose an image first (upload, or use the last generated)');
    // Upscale runs an SR3 model: unconditional, so no class or guidance.
    const body =
      kind === 'img2img'
        ? { ...sampling(), image: editSource, strength: Number($<HTMLInputElement>('strength').value) }
        : { ...sampling(), model: $<HTMLSelectElement>('upscale-model').value, guidance: 1, classLabel: null, image: editSource };
    const { result } = await runJob(kind, body, (p) => {
      $('edit-step').textContent = `step ${p.step} / ${p.total}`;
      if (p.preview) $<HTMLImageElement>('edit-result').src = p.preview.x0;
    });
    if (result) $<HTMLImageElement>('edit-result').src = result.images[0]!;
  });
}

// ---- the forward process ---------------------------------------------------------------------

let forwardSource: string | null = null;
let forward: Result['forward'] | null = null;
function setForwardSource(src: string): void {
  forwardSource = src;
  $<HTMLImageElement>('forward-source').src = src;
}
function showForward(i: number): void {
  if (!forward) return;
  $<HTMLImageElement>('forward-frame').src = forward.frames[i]!;
  $('forward-t').textContent = String(forward.t[i]);
  const snr = forward.snr[i]!;
  $('forward-snr').textContent = !Number.isFinite(snr) ? '∞' : snr >= 0.01 ? snr.toPrecision(3) : snr.toExponential(2);
}
$('forward-file').addEventListener('change', (e) => {
  readFile(e.target as HTMLInputElement).then(setForwardSource).catch((err: unknown) => showError((err as Error).message));
});
action('forward-use-last', async () => setForwardSource(useLast()));
action('forward-run', async () => {
  if (forwardSource === null) throw new Error('choose an image first (upload, or use the last generated)');
  const T = model().scheduler?.numTrainTimesteps ?? 1000;
  const t = [...new Set(Array.from({ length: 41 }, (_, i) => Math.min(T - 1, Math.round((i * T) / 40))))];
  const { result } = await runJob('explain', { model: model().name, image: forwardSource, t, seed: Number($<HTMLInputElement>('seed').value) || 0 }, () => {});
  if (!result?.forward) return;
  forward = result.forward;
  const s = $<HTMLInputElement>('forward-slider');
  s.max = String(forward.t.length - 1);
  s.value = '0';
  s.disabled = false;
  showForward(0);
});
$('forward-slider').addEventListener('input', (e) => showForward(Number((e.target as HTMLInputElement).value)));

// ---- gallery ----------------------------------------------------------------------------------

function addToGallery(id: string, kind: string, result: Result): void {
  $('gallery-empty').hidden = true;
  const gallery = $('gallery');
  result.images.forEach((src, i) => {
    const fig = document.createElement('figure');
    const img = new Image();
    img.src = src;
    img.alt = `${kind} ${i}`;
    const a = document.createElement('a');
    a.href = `/api/jobs/${id}/images/${i}.png`;
    a.download = `diffuse-${kind}-${id.slice(0, 8)}-${i}.png`;
    a.textContent = 'download';
    const cap = document.createElement('figcaption');
    cap.append(a);
    fig.append(img, cap);
    gallery.prepend(fig);
  });
}

// ---- tabs and start-up ----------------------------------------------------------------------

for (const b of document.querySelectorAll<HTMLButtonElement>('[role=tab]')) {
  b.addEventListener('click', () => {
    for (const o of document.querySelectorAll<HTMLButtonElement>('[role=tab]')) o.setAttribute('aria-selected', String(o === b));
    for (const t of document.querySelectorAll<HTMLElement>('.tab')) t.hidden = t.id !== `tab-${b.dataset['tab']}`;
  });
}

$('seed-random').addEventListener('click', () => {
  $<HTMLInputElement>('seed').value = String(Math.floor(Math.random() * 2 ** 32));
});

async function start(): Promise<void> {
  bindOutput('steps');
  bindOutput('guidance', (v) => formatSlider(v));
  bindOutput('n');
  try {
    const [m, s, limits, health] = await Promise.all([
      api<{ models: ModelInfo[] }>('/api/models'),
      api<{ default: string; names: string[] }>('/api/samplers'),
      api<{ maxSteps: number; maxImages: number }>('/api/limits'),
      api<{ queue: { mode: string }; kinds: string[] }>('/api/health'),
    ]);
    models = m.models.filter((x) => x.task !== 'superres');
    const srModels = m.models.filter((x) => x.task === 'superres');
    const up = $<HTMLSelectElement>('upscale-model');
    for (const x of srModels) up.add(new Option(`${x.name} (x${x.scale})`, x.name));
    up.disabled = srModels.length === 0;
    $<HTMLButtonElement>('upscale-run').disabled = srModels.length === 0;
    if (srModels.length === 0) $('upscale-run').title = 'no super-resolution model in the models folder';
    if (models.length === 0) throw new Error('the server has no models (start it with --models DIR)');
    const sel = $<HTMLSelectElement>('model');
    for (const x of models) sel.add(new Option(x.name, x.name));
    sel.addEventListener('change', onModelChange);
    const sam = $<HTMLSelectElement>('sampler');
    for (const name of s.names) sam.add(new Option(name, name));
    sam.value = s.default;
    $<HTMLInputElement>('steps').max = String(Math.min(limits.maxSteps, 250));
    $<HTMLInputElement>('n').max = String(limits.maxImages);
    onModelChange();
    setStatus(`${models.length} model(s) · queue: ${health.queue.mode}`);
  } catch (e) {
    setStatus('offline');
    showError(`could not load the server's settings: ${(e as Error).message}`);
  }
}

void start();
