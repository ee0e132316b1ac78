/** `diffuse plot`: figures of a training run (for now its loss curve). */
import { UsageError } from '../../tensor/errors.js';
import { writeLossCurve } from '../../train/loss_curve.js';
import { described, optional, stringField } from '../../schema/field.js';
import { formatFlagHelp, parseCommandFlags, pathFlag } from '../flags.js';

const FLAGS = {
  run: pathFlag('run', 'The training run (required).', 'RUN_DIR'),
  out: pathFlag('out', 'The PNG to write (required).', 'FILE.png'),
  title: described(optional(stringField('title', '', true)), "The figure's title.", { metavar: 'TEXT' }),
} as const;

export const summary = "Plot a training run's loss curve to a PNG.";

export const help = `diffuse plot: figures of a training run

Usage: diffuse plot --run RUN_DIR --out loss.png [--title TEXT]

Draws RUN_DIR/metrics.jsonl: the loss at every step and its moving average, on a log axis.

Options:
${formatFlagHelp(FLAGS)}`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseCommandFlags('plot', FLAGS, argv);
  if (values.run === undefined) throw new UsageError('--run RUN_DIR is required');
  if (values.out === undefined) throw new UsageError('--out FILE.png is required');
  if (!values.out.endsWith('.png')) throw new UsageError(`--out must name a .png file, found '${values.out}'`);
  await writeLossCurve(values.run, values.out, values.title);
  console.log(`wrote ${values.out}`);
}
