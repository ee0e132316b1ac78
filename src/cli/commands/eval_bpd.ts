/**
 * `diffuse eval --bpd`: likelihood in bits/dim (variational bound and probability-flow ODE).
 * Placeholder while issue 6 is built: `diffuse eval` delegates here when --bpd is given.
 */
import { DiffuseError } from '../../tensor/errors.js';

export const bpdHelp = `  --bpd              Bits/dim on the test split (not built yet: issue 6).\n`;

export async function runBpd(argv: string[]): Promise<void> {
  await Promise.resolve(argv);
  throw new DiffuseError('eval --bpd: not built yet (issue 6)');
}
