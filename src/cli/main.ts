/**
 * The `diffuse` command: a thin client of the library. Each subcommand parses its flags,
 * calls the library, and prints the result.
 */
import { parseArgs } from 'node:util';
import { engineInfo } from '../engine_info.js';
import { runDemo } from '../demo.js';
import { DiffuseError } from '../tensor/errors.js';

const HELP = `diffuse: diffusion models in TypeScript with native oneDNN kernels

Usage: diffuse <command> [options]

Commands:
  info                 Print versions, the oneDNN version, the CPU ISA oneDNN dispatches to,
                       and the thread count (set it with DIFFUSE_THREADS).
  demo [--steps N]     Train a tiny convolutional denoiser on synthetic images with the engine's
                       autograd and AdamW, printing the loss as it falls (default 200 steps).
  help                 Show this help.

Options:
  -h, --help           Show this help.
  --json               (info) Print JSON instead of text.

Environment:
  DIFFUSE_THREADS      Threads for oneDNN and the native kernels (default: all cores).
`;

function info(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, strict: true });
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
  const { values } = parseArgs({ args: argv, options: { steps: { type: 'string', default: '200' } }, strict: true });
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new DiffuseError(`demo: --steps must be a positive integer, found '${values.steps}'`);
  runDemo({ steps, log: (line) => console.log(line) });
}

export function main(argv: string[]): number {
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
        info(rest);
        return 0;
      case 'demo':
        demo(rest);
        return 0;
      default:
        process.stderr.write(`diffuse: unknown command '${command}'\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    // Expected errors get their message only; anything else keeps its stack for a bug report.
    const err = e as Error;
    const known = err instanceof DiffuseError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`diffuse ${command}: ${known ? err.message : (err.stack ?? String(err))}\n`);
    return 1;
  }
}
