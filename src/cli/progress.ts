/**
 * A terminal progress bar for long work (training, sampling): count, rate, ETA and free-form
 * fields such as the loss. Redraws in place on a TTY at most every 100 ms; elsewhere (CI, pipes)
 * prints a plain line every `plainEvery` seconds so logs stay readable.
 *
 * The rate counts from the first update (a resumed run starts at its checkpoint's step, and work
 * done before the bar existed is not this session's), so it is unknown ('?') until the second;
 * the ETA is the remaining count at that rate, or the time left under a limit if that ends sooner.
 */

export interface ProgressOptions {
  total: number;
  label?: string;
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain-text lines when the stream is not a TTY. */
  plainEvery?: number;
  /** The clock in milliseconds (default performance.now; tests pass their own). */
  now?: () => number;
}

/** Seconds -> "1h02m", "3m05s", "12s". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

export class ProgressBar {
  private readonly total: number;
  private readonly label: string;
  private readonly unit: string;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly plainEvery: number;
  private lastDraw = 0;
  private current = 0;
  private fields = '';
  /** The first update's count and time: the rate's origin. */
  private origin: { count: number; time: number } | null = null;
  /** Seconds left under a time limit at the last update, or null. */
  private secondsLeft: number | null = null;
  private secondsLeftAt = 0;

  private readonly now: () => number;

  constructor({ total, label = '', unit = 'it', stream = process.stderr, plainEvery = 10, now = () => performance.now() }: ProgressOptions) {
    this.now = now;
    this.total = total;
    this.label = label;
    this.unit = unit;
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.plainEvery = plainEvery;
  }

  /**
   * Sets the count (absolute) and optional fields, redrawing if due; `secondsLeft` is the time left
   * under a limit (e.g. train --time-limit), which caps the ETA.
   */
  update(current: number, fields: Record<string, string | number> = {}, secondsLeft: number | null = null): void {
    const now = this.now();
    this.origin ??= { count: current, time: now };
    this.current = current;
    this.secondsLeft = secondsLeft;
    this.secondsLeftAt = now;
    this.fields = Object.entries(fields)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2)) : v}`)
      .join('  ');
    const due = this.tty ? now - this.lastDraw >= 100 : now - this.lastDraw >= this.plainEvery * 1000;
    if (due || current >= this.total) this.draw(now);
  }

  /** The line as it would be drawn now. */
  render(now = this.now()): string {
    const o = this.origin;
    const rate = o !== null && this.current > o.count && now > o.time ? (this.current - o.count) / ((now - o.time) / 1000) : NaN;
    const byCount = rate > 0 ? (this.total - this.current) / rate : Infinity;
    const byLimit = this.secondsLeft === null ? Infinity : Math.max(0, this.secondsLeft - (now - this.secondsLeftAt) / 1000);
    const eta = Math.min(byCount, byLimit);
    const frac = this.total > 0 ? Math.min(1, this.current / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
    return `${this.label ? `${this.label} ` : ''}[${bar}] ${pct} ${this.current}/${this.total} ${Number.isFinite(rate) ? rate.toFixed(2) : '?'} ${this.unit}/s ETA ${formatDuration(eta)}${this.fields ? `  ${this.fields}` : ''}`;
  }

  private draw(now: number): void {
    this.lastDraw = now;
    const line = this.render(now);
    this.stream.write(this.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  /** Writes a message line; on a TTY above the bar (cleared, then redrawn at the next update). */
  log(message: string): void {
    this.stream.write(this.tty ? `\r\x1b[2K${message}\n` : `${message}\n`);
    if (this.tty && this.origin !== null) this.draw(this.now());
  }

  /** Draws the final state and ends the line. */
  done(): void {
    this.draw(this.now());
    if (this.tty) this.stream.write('\n');
  }
}

/**
 * Bars for work that reports (stage, done, total) through several stages (eval's features,
 * orientation, memorisation, CAS): a new bar per stage, the finished one closed on a TTY.
 */
export function stagedProgress(unitOf: (stage: string) => string): { onProgress: (stage: string, done: number, total: number) => void; done: () => void } {
  let bar: ProgressBar | null = null;
  let stage: string | null = null;
  const close = (): void => {
    if (bar !== null && process.stderr.isTTY) bar.done();
  };
  return {
    onProgress: (s, done, total) => {
      if (s !== stage) {
        close();
        stage = s;
        bar = new ProgressBar({ total, label: s, unit: unitOf(s) });
      }
      bar!.update(done);
    },
    done: close,
  };
}

/** A bar made at the first step (when the total is known) for a loop reporting (step, total, loss). */
export function stepProgress(label: string): { onStep: (step: number, total: number, loss: number) => void; done: () => void } {
  let bar: ProgressBar | null = null;
  return {
    onStep: (step, total, loss) => {
      bar ??= new ProgressBar({ total, label, unit: 'step' });
      bar.update(step, { loss });
    },
    done: () => {
      if (process.stderr.isTTY) bar?.done();
    },
  };
}
