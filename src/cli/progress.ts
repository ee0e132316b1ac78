/**
 * A terminal progress bar for long work (training, sampling): count, rate, ETA and free-form
 * fields such as the loss. Redraws in place on a TTY at most every 100 ms; elsewhere (CI, pipes)
 * prints a plain line every `plainEvery` seconds so logs stay readable.
 */

export interface ProgressOptions {
  total: number;
  label?: string;
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain-text lines when the stream is not a TTY. */
  plainEvery?: number;
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
  private readonly start = performance.now();
  private lastDraw = 0;
  private current = 0;
  private fields = '';

  constructor({ total, label = '', unit = 'it', stream = process.stderr, plainEvery = 10 }: ProgressOptions) {
    this.total = total;
    this.label = label;
    this.unit = unit;
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.plainEvery = plainEvery;
  }

  /** Sets the count (absolute) and optional fields, redrawing if due. */
  update(current: number, fields: Record<string, string | number> = {}): void {
    this.current = current;
    this.fields = Object.entries(fields)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2)) : v}`)
      .join('  ');
    const now = performance.now();
    const due = this.tty ? now - this.lastDraw >= 100 : now - this.lastDraw >= this.plainEvery * 1000;
    if (due || current >= this.total) this.draw(now);
  }

  /** The line as it would be drawn now. */
  render(now = performance.now()): string {
    const elapsed = (now - this.start) / 1000;
    const rate = this.current / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - this.current) / rate : Infinity;
    const frac = this.total > 0 ? Math.min(1, this.current / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
    return `${this.label ? `${this.label} ` : ''}[${bar}] ${pct} ${this.current}/${this.total} ${rate.toFixed(2)} ${this.unit}/s ETA ${formatDuration(eta)}${this.fields ? `  ${this.fields}` : ''}`;
  }

  private draw(now: number): void {
    this.lastDraw = now;
    const line = this.render(now);
    this.stream.write(this.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  /** Draws the final state and ends the line. */
  done(): void {
    this.draw(performance.now());
    if (this.tty) this.stream.write('\n');
  }
}
