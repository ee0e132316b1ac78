/**
 * Keeps the server's file-system layout out of what it answers: every error message that reaches
 * a response (an HTTP error, a job's failure, an SSE state event) goes through a scrubber that
 * names files relative to the models folder (`tiny/unet/config.json`) and cuts any other absolute
 * path down to its last part (`…/weights.safetensors`). A client learns which file of which model
 * is wrong, never where the server keeps it, the user's name or the package's install path.
 */
import { readdirSync, realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';

/** A function that takes a message and returns it without absolute paths. */
export type Scrubber = (message: string) => string;

/** What an absolute path outside the models folder becomes: an ellipsis, then its last part. */
const ELIDED = '…/';

/**
 * A path that starts at the root: '/' then a name of the root folder (tmp, home, usr, ...), then
 * anything up to a space, quote, bracket, comma or end. URL paths like /api/jobs do not start with
 * a root folder's name, so they stay.
 */
function absolutePathRe(rootNames: readonly string[]): RegExp | null {
  if (rootNames.length === 0) return null;
  const names = rootNames.map(escapeRe).join('|');
  return new RegExp(`(^|[\\s'"\`(\\[=<,;])(?:file://)?/(?:${names})(?=/|$|[\\s'"\`)\\],;:])[^\\s'"\`)\\],;]*`, 'g');
}

/** `s` as a regular expression that matches it literally. */
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The names in the root folder (read once; an unreadable root leaves only the models folder's rule). */
function rootEntries(): string[] {
  try {
    return readdirSync('/').filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

/**
 * A scrubber for a server whose models live in `modelsDir` (as given and as its real path).
 * @example makeScrubber('/srv/models')('bad /srv/models/tiny/unet/config.json') // 'bad tiny/unet/config.json'
 */
export function makeScrubber(modelsDir: string): Scrubber {
  const prefixes = new Set<string>([resolve(modelsDir)]);
  try {
    prefixes.add(realpathSync(modelsDir));
  } catch {
    // a folder that does not exist has no real path; the given one is enough
  }
  // Longest first, so /a/models/x is cut at /a/models and not at a shorter prefix.
  const ordered = [...prefixes].sort((a, b) => b.length - a.length).map((p) => new RegExp(`(?:file://)?${escapeRe(p)}(?:${escapeRe(sep)}([^\\s'"\`)\\],;]*))?(?=$|[\\s'"\`)\\],;:.])`, 'g'));
  const generic = absolutePathRe(rootEntries());
  return (message: string): string => {
    let out = message;
    // The folder itself becomes 'the models folder'; a file inside it, its path from there.
    for (const re of ordered) out = out.replace(re, (_m, inside: string | undefined) => (inside === undefined || inside === '' ? 'the models folder' : inside));
    if (generic !== null) out = out.replace(generic, (match, lead: string) => `${lead}${ELIDED}${match.slice(lead.length).split('/').filter((s) => s !== '').at(-1) ?? ''}`);
    return out;
  };
}
