/**
 * The `diffuse` command: a thin client of the library. Each subcommand parses its flags,
 * calls the library, and prints the result.
 */
import { engineInfo } from '../engine_info.js';
import { runDemo } from '../demo.js';
import { DiffuseError } from '../tensor/errors.js';
import { threadsFromEnv } from '../backend/native/loader.js';
import { boolField, described, intField } from '../schema/field.js';
import { formatFlagHelp, parseCommandFlags } from './flags.js';
import { closestName } from '../schema/did_you_mean.js';

const INFO_FLAGS = { json: described(boolField('json', false), 'Print JSON instead of text.') } as const;
const DEMO_FLAGS = { steps: described(intField('steps', 200, 1), 'Training steps of the demo.') } as const;
import * as trainCommand from './commands/train.js';
import * as sampleCommand from './commands/sample.js';
import * as plotCommand from './commands/plot.js';
import * as samplersCommand from './commands/samplers.js';
import * as serveCommand from './commands/serve.js';
import * as workerCommand from './commands/worker.js';
import * as trainFeatureNetCommand from './commands/train_feature_net.js';
import * as inpaintCommand from './commands/inpaint.js';
import * as img2imgCommand from './commands/img2img.js';
import * as augmentCommand from './commands/augment.js';
import * as explainCommand from './commands/explain.js';
import * as upscaleCommand from './commands/upscale.js';
import * as trainClassifierCommand from './commands/train_classifier.js';
import * as evalCommand from './commands/eval.js';

/** A subcommand in its own file: its one-line summary, its --help text, and its entry point. */
export interface Command {
  summary: string;
  help: string;
  run(argv: string[]): Promise<void> | void;
}

const COMMANDS: Record<string, Command> = { train: trainCommand, sample: sampleCommand, samplers: samplersCommand, plot: plotCommand, 'train-feature-net': trainFeatureNetCommand, inpaint: inpaintCommand, img2img: img2imgCommand, augment: augmentCommand, explain: explainCommand, eval: evalCommand, serve: serveCommand, worker: workerCommand, upscale: upscaleCommand, 'train-classifier': trainClassifierCommand };

const HELP_TEMPLATE = `diffuse: diffusion models in TypeScript with native oneDNN kernels

Usage: diffuse <command> [options]

Commands:
  info                 Print versions, the oneDNN version, the CPU ISA oneDNN dispatches to,
                       and the thread count (set it with DIFFUSE_THREADS).
  demo [--steps N]     Train a tiny convolutional denoiser on synthetic images with the engine's
                       autograd and AdamW, printing the loss as it falls (default \${DEMO_STEPS} steps).
\${COMMAND_LIST}  help                 Show this help.

Run \`diffuse <command> --help\` for a command's options.

Options:
  -h, --help           Show this help.
  --json               (info) Print JSON instead of text.

Environment:
  DIFFUSE_THREADS      Threads for oneDNN and the native kernels: an integer >= 1 (default: all
                       cores). 'train' and 'train-classifier' also take it as --threads N.
  DIFFUSE_NATIVE       The native addon file to load instead of build/Release/diffuse_native.node.
`;

const HELP = HELP_TEMPLATE.replace('${DEMO_STEPS}', String(DEMO_FLAGS.steps.default)).replace(
  '${COMMAND_LIST}',
  Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(21)}${c.summary}\n`)
    .join(''),
);

// `diffuse info --help` and `diffuse demo --help`, as every other command answers --help.
const INFO_HELP = `diffuse info: versions, the oneDNN version, the CPU ISA oneDNN dispatches to, and the thread count\n\nUsage: diffuse info [--json]\n\nOptions:\n${formatFlagHelp(INFO_FLAGS)}`;
const DEMO_HELP = `diffuse demo: train a tiny convolutional denoiser on synthetic images, printing the loss as it falls\n\nUsage: diffuse demo [--steps N]\n\nOptions:\n${formatFlagHelp(DEMO_FLAGS)}`;

function info(argv: string[]): void {
  const { values } = parseCommandFlags('info', INFO_FLAGS, argv);
  const i = engineInfo();
  if (values.json) {
    console.log(JSON.stringify(i, null, 2));
    return;
  }
  console.log(`diffuse     ${i.version}`);
  console.log(`node        ${i.node} (N-API ${i.napi})`);
  console.log(`oneDNN      ${i.dnnlVersion}`);
  console.log(`cpu isa     ${i.isa}`);
  console.log(`threads     ${i.threads}`);
  console.log(`platform    ${i.platform}`);
}

function demo(argv: string[]): void {
  const { steps } = parseCommandFlags('demo', DEMO_FLAGS, argv).values;
  runDemo({ steps, log: (line) => console.log(line) });
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return 0;
      case 'info':
        if (rest.includes('--help') || rest.includes('-h')) process.stdout.write(INFO_HELP);
        else info(rest);
        return 0;
      case 'demo':
        if (rest.includes('--help') || rest.includes('-h')) process.stdout.write(DEMO_HELP);
        else demo(rest);
        return 0;
      default: {
        const cmd = command === undefined ? undefined : COMMANDS[command];
        if (cmd !== undefined) {
          if (rest.includes('--help') || rest.includes('-h')) process.stdout.write(cmd.help);
          else {
            // A bad DIFFUSE_THREADS fails every command up front, not at its first kernel call
            // (which, for serve and worker, happens on a worker thread mid-job).
            threadsFromEnv();
            await cmd.run(rest);
          }
          return 0;
        }
        const guess = closestName(command, [...Object.keys(COMMANDS), 'info', 'demo', 'help']);
        process.stderr.write(`diffuse: unknown command '${command}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`}\n\n${HELP}`);
        return 2;
      }
    }
  } catch (e) {
    // Expected errors get their message only; anything else keeps its stack for a bug report.
    const err = e as Error;
    const known = err instanceof DiffuseError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`diffuse ${command}: ${known ? err.message : (err.stack ?? String(err))}\n`);
    return 1;
  }
}
