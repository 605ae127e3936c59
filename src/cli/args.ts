// Command lines of the repository's tools (`npm run sim`, `npm run chaos`, `npm run bench`), on
// node:util parseArgs: `--help`/`-h` prints the tool's usage on stdout and exits 0; an unknown
// flag, a stray argument or a bad value prints ONE line on stderr naming it, with a pointer to
// --help, and exits 2 (never a stack trace). Parsing and checking are pure (parseToolArgs, which
// throws UsageError); toolArgs adds the printing and the exit. The dynakv command uses commander.
import { assert } from '../env/assert.ts';
import { parseArgs } from 'node:util';
import { terminalSafe } from './terminal-text.ts';

/** Exit status of a command line that could not be understood (as commander, getopt, BSD sysexits' EX_USAGE family). */
export const USAGE_EXIT_CODE = 2;
/** How much of a flag or value from the command line an error message quotes. */
const QUOTED_CHARS_MAX = 80;

/** A command line that cannot run: the message names the flag or value and what it must be. */
export class UsageError extends Error {
  readonly code = 'USAGE';
}

type OptionsConfig = NonNullable<Parameters<typeof parseArgs>[0]>['options'] & {};
/** The typed values parseArgs gives for `O` (strict, no positionals). */
export type ToolValues<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

export interface Tool<O extends OptionsConfig> {
  /** Prefix of error lines, e.g. `sim`. */
  readonly name: string;
  /** How the operator runs it, e.g. `npm run sim --`: the hint says `<invocation> --help`. */
  readonly invocation: string;
  /** The whole usage text printed by --help (the first line should be `usage: ...`). */
  readonly usage: string;
  /** The flags; `help` and `-h` are added, and may not be used. */
  readonly options: O;
}

/** The value of `text` quoted for an error line: one line, bounded, no control characters. */
export function quoted(text: string): string {
  const short = text.length > QUOTED_CHARS_MAX ? `${text.slice(0, QUOTED_CHARS_MAX)}...` : text;
  return `'${terminalSafe(short)}'`;
}

/**
 * Parses `argv` for `tool`, then hands the values to `check`, which turns them into the tool's
 * typed options or throws UsageError. Returns 'help' when --help or -h is given (checks skipped).
 */
export function parseToolArgs<O extends OptionsConfig, T>(tool: Tool<O>, argv: readonly string[], check: (values: ToolValues<O>) => T): T | 'help' {
  assert(!('help' in tool.options), () => `${tool.name} declares its own --help`);
  let values: ToolValues<O> & { help?: boolean };
  try {
    values = parseArgs({ args: [...argv], options: { ...tool.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as ToolValues<O> & { help?: boolean };
  } catch (err) {
    // A help flag wins over any mistake around it: `--bogus --help` still shows the usage.
    if (argv.some((a) => a === '--help' || a === '-h')) return 'help';
    throw new UsageError(parseErrorMessage(err));
  }
  if (values.help === true) return 'help';
  return check(values);
}

/** One line from a parseArgs error (its own messages may run on or quote raw input). */
function parseErrorMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quotedArg = /'([^']*)'/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted(quotedArg)}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted(quotedArg)}: every setting is a --flag`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(message) ? `option ${quoted(quotedArg.replace(/ <value>$/, ''))} needs a value` : `option ${quoted(quotedArg)} takes no value`;
    default:
      return terminalSafe(message.split('\n')[0] ?? message);
  }
}

/**
 * parseToolArgs for a process: on --help prints the usage and exits 0; on a UsageError prints
 * `<name>: <message> (<invocation> --help shows the usage)` on stderr and exits 2.
 */
export function toolArgs<O extends OptionsConfig, T>(tool: Tool<O>, argv: readonly string[], check: (values: ToolValues<O>) => T): T {
  let parsed: T | 'help';
  try {
    parsed = parseToolArgs(tool, argv, check);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${tool.name}: ${err.message} (${tool.invocation} --help shows the usage)\n`);
    process.exit(USAGE_EXIT_CODE);
  }
  if (parsed === 'help') {
    process.stdout.write(tool.usage.endsWith('\n') ? tool.usage : `${tool.usage}\n`);
    process.exit(0);
  }
  return parsed;
}

// Checks for flag values; each throws UsageError naming the flag and what it must be.

/** A whole number in [min, max]. */
export function wholeNumber(flag: string, text: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  const value = /^-?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`}, got ${quoted(text)}`);
  }
  return value;
}

/** A finite number > 0 (or >= min when given). */
export function positiveNumber(flag: string, text: string, min?: number): number {
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value) || (min === undefined ? value <= 0 : value < min)) {
    throw new UsageError(`${flag} must be a number ${min === undefined ? '> 0' : `>= ${min}`}, got ${quoted(text)}`);
  }
  return value;
}

/** One of `choices`. */
export function oneOf<C extends string>(flag: string, text: string, choices: readonly C[]): C {
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got ${quoted(text)}`);
  return text as C;
}

/** A comma-separated list, each item one of `choices` (empty items dropped). */
export function listOf<C extends string>(flag: string, text: string, choices: readonly C[]): C[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => oneOf(flag, s, choices));
}
