/**
 * The shell commands of a Markdown file, read the way a user copies them: every fenced block
 * labelled sh/bash/shell, with `\` continuation lines joined, `# comments` dropped and `a && b`
 * split into its commands, each split into words. test/readme_commands.test.ts runs every one.
 */

/** One command of a shell block. */
export interface ShellCommand {
  /** The README line the command starts on (1-based). */
  line: number;
  /** The command as one line, comments and continuations removed. */
  text: string;
  /** Its words, with quotes removed (`--model=DIR` stays one word). */
  words: string[];
  /** The whole line it came from, `a && b` included. */
  chain: string;
}

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console']);
/** What a command line starts with: a line like this outside a shell block is a hidden command. */
const COMMAND_START = /^(diffuse|npm|npx|node|\.\/\S+)(\s|$)/;

/** Splits a line into words, honouring '...' and "..." quotes; stops at an unquoted `#` that starts a word. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (const ch of line) {
    if (quote !== null) {
      if (ch === quote) quote = null;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (ch === '#' && word === null) {
      break;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (quote !== null) throw new Error(`unclosed ${quote} in: ${line}`);
  if (word !== null) words.push(word);
  return words;
}

/** The fenced blocks of a Markdown text: language, first content line (1-based) and lines. */
function fencedBlocks(markdown: string): { language: string; line: number; lines: string[] }[] {
  const out: { language: string; line: number; lines: string[] }[] = [];
  let open: { language: string; line: number; lines: string[] } | null = null;
  markdown.split('\n').forEach((raw, i) => {
    const fence = /^\s*```\s*([\w-]*)\s*$/.exec(raw);
    if (open === null) {
      if (fence !== null) open = { language: fence[1]!.toLowerCase(), line: i + 2, lines: [] };
    } else if (fence !== null && fence[1] === '') {
      out.push(open);
      open = null;
    } else {
      open.lines.push(raw);
    }
  });
  if (open !== null) throw new Error(`a fenced block opened at line ${(open as { line: number }).line - 1} is never closed`);
  return out;
}

/**
 * Every command of the shell blocks, in order.
 * @example readmeCommands('```sh\ndiffuse sample \\\n  --out a.png   # one\n```') // [{ line: 2, text: 'diffuse sample --out a.png', ... }]
 */
export function readmeCommands(markdown: string): ShellCommand[] {
  const out: ShellCommand[] = [];
  for (const block of fencedBlocks(markdown)) {
    if (!SHELL_LANGUAGES.has(block.language)) continue;
    let pending: string[] = [];
    let start = 0;
    block.lines.forEach((raw, i) => {
      if (pending.length === 0) start = block.line + i;
      const continued = /\\\s*$/.test(raw);
      pending.push(...shellWords(continued ? raw.replace(/\\\s*$/, '') : raw));
      if (continued) return;
      // One line (with its continuations) may hold several commands joined by &&.
      let words: string[] = [];
      const chain = pending.join(' ');
      for (const w of [...pending, '&&']) {
        if (w !== '&&') {
          words.push(w);
          continue;
        }
        if (words.length > 0) out.push({ line: start, text: words.join(' '), words, chain });
        words = [];
      }
      pending = [];
    });
    if (pending.length > 0) throw new Error(`the shell block at line ${block.line - 1} ends in a continuation line`);
  }
  return out;
}

/**
 * Lines that look like commands (diffuse, npm, node, ./script) in fenced blocks that are not
 * labelled as shell: they would escape the README test, so the test refuses them.
 */
export function unlabelledCommands(markdown: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  for (const block of fencedBlocks(markdown)) {
    if (SHELL_LANGUAGES.has(block.language)) continue;
    block.lines.forEach((raw, i) => {
      if (COMMAND_START.test(raw.trim())) out.push({ line: block.line + i, text: raw.trim() });
    });
  }
  return out;
}
