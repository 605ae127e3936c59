// Readable terminal lines from a node's JSON logs (pino), for `dynakv cluster start` in a
// terminal: "12:03:04.123 n3 INFO  membership change member=n5 change=down by=n3". Anything
// that is not a pino JSON object passes through as it came, so nothing a node prints is lost,
// except that control characters are escaped (terminal-text.ts): fields carry strings that
// peers supplied (member ids, addresses), and they must not drive the operator's terminal.
import { terminalSafe } from './terminal-text.ts';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** ANSI colours per level, used only when the output is a terminal. */
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '36', 40: '33', 50: '31', 60: '31' };
/** Fields every line carries that the short form shows in its own way or leaves out. */
const SHOWN_APART = new Set(['level', 'time', 'pid', 'hostname', 'node', 'msg']);

export function formatLogLine(line: string, nodeId: string, colour: boolean): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return `${terminalSafe(nodeId)} ${terminalSafe(line)}`;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return `${terminalSafe(nodeId)} ${terminalSafe(line)}`;
  const fields = entry as Record<string, unknown>;
  const level = typeof fields.level === 'number' ? fields.level : 30;
  const time = typeof fields.time === 'number' && Number.isFinite(new Date(fields.time).getTime()) ? new Date(fields.time).toISOString().slice(11, 23) : '';
  const node = typeof fields.node === 'string' ? fields.node : nodeId;
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const extra = Object.entries(fields)
    .filter(([k]) => !SHOWN_APART.has(k))
    .map(([k, v]) => `${terminalSafe(k)}=${terminalSafe(fieldText(v))}`)
    .join(' ');
  const levelText = colour ? `\u001b[${LEVEL_COLOURS[level] ?? '0'}m${terminalSafe(name)}\u001b[0m` : terminalSafe(name);
  return [time, terminalSafe(node), levelText, terminalSafe(String(fields.msg ?? '')), extra].filter((part) => part !== '').join(' ');
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string') return JSON.stringify(value.message);
  return JSON.stringify(value);
}

/**
 * One line of a node's output as `dynakv cluster start` prints it: the short form, or the JSON
 * line itself with unsafe characters escaped (JSON.stringify leaves DEL, C1 and bidi marks raw).
 */
export function forwardedLine(line: string, nodeId: string, options: { readonly pretty: boolean; readonly colour: boolean }): string {
  return options.pretty ? formatLogLine(line, nodeId, options.colour) : terminalSafe(line);
}
