/**
 * The `diffuse` command: a thin client of the library. Each subcommand parses its flags,
 * calls the library, and prints the result. The conventions every command shares live here:
 *   --version/-v prints the version; -h/--help works on every command (and `diffuse help CMD`);
 *   an unknown command gets "did you mean" (flags and sampler names get theirs from the schema);
 *   errors are printed once as `diffuse CMD: message` (a message that already starts with the
 *   command's name is not prefixed again); exit codes: 0 success, 1 runtime error, 2 usage error
 *   (UsageError: unknown command or flag, bad flag value, missing required flag), 130 after
 *   Ctrl-C (SIGINT; a command that handles it, such as train, checkpoints first).
 */
import { engineInfo } from '../engine_info.js';
import { runDemo } from '../demo.js';
import { DiffuseError, UsageError } from '../tensor/errors.js';
import { threadsFromEnv } from '../backend/native/loader.js';
import { packageVersion } from '../io/package_root.js';
import { boolField, described, intField } from '../schema/field.js';
import { formatFlagHelp, parseCommandFlags } from './flags.js';
import { didYouMean } from '../schema/did_you_mean.js';
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

const INFO_FLAGS = { json: described(boolField('json', false), 'Print JSON instead of text.') } as const;
const DEMO_FLAGS = { steps: described(intField('steps', 200, 1), 'Training steps of the demo.') } as const;

/** The exit codes (sysexits/bash conventions): a usage error is 2, Ctrl-C is 128 + SIGINT's 2. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_SIGINT = 130;

/** A subcommand: its one-line summary, its --help text, and its entry point. */
export interface Command {
  summary: string;
  help: string;
  run(argv: string[]): Promise<void> | void;
  /** Checks every flag without doing any work; whatever it throws is a usage error (exit 2). */
  checkArgs?(argv: string[]): unknown;
}

// `diffuse info --help` and `diffuse demo --help`, as every other command answers --help.
const INFO_HELP = `diffuse info: versions, the oneDNN version, the CPU ISA oneDNN dispatches to, and the thread count\n\nUsage: diffuse info [--json]\n\nOptions:\n${formatFlagHelp(INFO_FLAGS)}`;
const DEMO_HELP = `diffuse demo: train a tiny convolutional denoiser on synthetic images, printing the loss as it falls\n\nUsage: diffuse demo [--steps N]\n\nOptions:\n${formatFlagHelp(DEMO_FLAGS)}`;

/** Every command, by name (the help's list, the dispatch, and the tests' loop over commands). */
export const COMMANDS: Readonly<Record<string, Command>> = {
  info: { summary: 'Print versions, the oneDNN version, the CPU ISA oneDNN dispatches to, and the thread count (DIFFUSE_THREADS).', help: INFO_HELP, run: info },
  demo: { summary: `Train a tiny convolutional denoiser on synthetic images, printing the falling loss (default ${DEMO_FLAGS.steps.default} steps).`, help: DEMO_HELP, run: demo },
  // train's flag checks are its own function: their errors are usage errors, the run's are not.
  train: { ...trainCommand, checkArgs: trainCommand.parseTrainArgs },
  sample: sampleCommand,
  samplers: samplersCommand,
  plot: plotCommand,
  'train-feature-net': trainFeatureNetCommand,
  inpaint: inpaintCommand,
  img2img: img2imgCommand,
  augment: augmentCommand,
  explain: explainCommand,
  eval: evalCommand,
  serve: serveCommand,
  worker: workerCommand,
  upscale: upscaleCommand,
  'train-classifier': trainClassifierCommand,
};

const HELP_TEMPLATE = `diffuse: diffusion models in TypeScript with native oneDNN kernels

Usage: diffuse <command> [options]

Commands:
\${COMMAND_LIST}  help [COMMAND]       Show this help, or a command's.

Run \`diffuse <command> --help\` for a command's options.

Options:
  -h, --help           Show this help (after a command: that command's).
  -v, --version        Print the version.

Exit codes: 0 success, 1 error, 2 usage error (unknown command or flag, bad or missing flag
value), 130 interrupted by Ctrl-C (train writes a checkpoint first).

Environment:
  DIFFUSE_THREADS      Threads for oneDNN and the native kernels: an integer >= 1 (default: all
                       cores). 'train' and 'train-classifier' also take it as --threads N.
  DIFFUSE_NATIVE       The native addon file to load instead of build/Release/diffuse_native.node.
`;

const HELP = HELP_TEMPLATE.replace(
  '${COMMAND_LIST}',
  Object.entries(COMMANDS)
    .map(([name, c]) => wrapSummary(name, c.summary))
    .join(''),
);

/** One command's line in the help: its name, then its summary wrapped at 100 columns. */
function wrapSummary(name: string, summary: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of summary.split(' ')) {
    if (line !== '' && 23 + line.length + 1 + word.length > 100) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.map((l, i) => `  ${(i === 0 ? name : '').padEnd(21)}${l}\n`).join('');
}

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

/** Whether argv asks for help: -h or --help before any '--'. */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

/**
 * The one message prefix: `diffuse CMD: message`. A message that already names the command
 * ("plot: ...", "diffuse plot: ...", "eval --bpd: ...") or opens with 'diffuse: ' keeps its own
 * words after the prefix, so nothing is said twice ("diffuse plot: plot: ..." was).
 * @example errorLine('plot', 'plot: --run RUN_DIR is required') // 'diffuse plot: --run RUN_DIR is required'
 */
export function errorLine(command: string | undefined, message: string): string {
  // A library message may open with 'diffuse: ' (the native loader's, for library users).
  if (message.startsWith('diffuse: ')) message = message.slice('diffuse: '.length);
  if (command === undefined) return `diffuse: ${message}`;
  const escaped = command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const own = new RegExp(`^(?:diffuse )?${escaped}((?: --[\\w-]+)*): `).exec(message);
  return own === null ? `diffuse ${command}: ${message}` : `diffuse ${command}${own[1]}: ${message.slice(own[0].length)}`;
}

/**
 * Runs a command and says whether a SIGINT arrived while it handled Ctrl-C itself. A command that
 * handles it (train checkpoints, serve and worker stop cleanly) adds a SIGINT listener; only then
 * is one added here too, to note the signal, so a command without one still dies at once on
 * Ctrl-C (Node's default, which the shell reports as 130).
 */
async function runNotingSigint(run: () => Promise<void> | void): Promise<boolean> {
  let interrupted = false;
  let noting = false;
  const note = (): void => {
    interrupted = true;
  };
  const watch = (event: string | symbol): void => {
    if (event !== 'SIGINT' || noting) return;
    noting = true;
    process.on('SIGINT', note);
  };
  process.on('newListener', watch);
  try {
    await run();
  } finally {
    process.removeListener('newListener', watch);
    process.removeListener('SIGINT', note);
  }
  return interrupted;
}

/** Runs `diffuse ...argv`; resolves to the exit code (bin/diffuse.js sets it). */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  // `diffuse help CMD` is `diffuse CMD --help`.
  if (first === 'help' && rest[0] !== undefined && COMMANDS[rest[0]] !== undefined) return main([rest[0], '--help']);
  const command = first;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return EXIT_OK;
      case '-v':
      case '--version':
        process.stdout.write(`${packageVersion()}\n`);
        return EXIT_OK;
      default: {
        const cmd = COMMANDS[command];
        if (cmd === undefined) {
          const what = command.startsWith('-') ? 'option' : 'command';
          throw new UsageError(`unknown ${what} '${command}'${didYouMean(command, [...Object.keys(COMMANDS), 'help', '--help', '--version'])}; run 'diffuse --help' for the commands`);
        }
        if (wantsHelp(rest)) {
          process.stdout.write(cmd.help);
          return EXIT_OK;
        }
        if (cmd.checkArgs !== undefined) {
          try {
            cmd.checkArgs(rest);
          } catch (e) {
            throw e instanceof DiffuseError && !(e instanceof UsageError) ? new UsageError(e.message, { cause: e }) : e;
          }
        }
        // A bad DIFFUSE_THREADS fails every command up front, not at its first kernel call
        // (which, for serve and worker, happens on a worker thread mid-job).
        threadsFromEnv();
        return (await runNotingSigint(() => cmd.run(rest))) ? EXIT_SIGINT : EXIT_OK;
      }
    }
  } catch (e) {
    // Expected errors get their message only; anything else keeps its stack for a bug report.
    const err = e as Error;
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    const known = usage || err instanceof DiffuseError;
    process.stderr.write(`${errorLine(command === undefined || COMMANDS[command] === undefined ? undefined : command, known ? err.message : (err.stack ?? String(err)))}\n`);
    return usage ? EXIT_USAGE : EXIT_ERROR;
  }
}
