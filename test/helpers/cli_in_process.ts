/**
 * `diffuse ...` run in this process through the CLI's main(), with what it writes to stderr
 * captured: the exit code and the message a user would see, without a child process.
 */
import { main } from '../../src/cli/main.js';

/** Runs `diffuse ...args` in process; returns the exit code and stderr. */
export async function cliInProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}
