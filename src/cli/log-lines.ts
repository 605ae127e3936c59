// Readable terminal lines from a node's JSON logs (pino), for `dynakv cluster start` in a
// terminal: "12:03:04.123 n3 INFO  membership change member=n5 change=down by=n3". Anything
// that is not a pino JSON object passes through as it came, so nothing a node prints is lost.

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
    return `${nodeId} ${line}`;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return `${nodeId} ${line}`;
  const fields = entry as Record<string, unknown>;
  const level = typeof fields.level === 'number' ? fields.level : 30;
  const time = typeof fields.time === 'number' ? new Date(fields.time).toISOString().slice(11, 23) : '';
  const node = typeof fields.node === 'string' ? fields.node : nodeId;
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const extra = Object.entries(fields)
    .filter(([k]) => !SHOWN_APART.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(' ');
  const levelText = colour ? `\u001b[${LEVEL_COLOURS[level] ?? '0'}m${name}\u001b[0m` : name;
  return [time, node, levelText, String(fields.msg ?? ''), extra].filter((part) => part !== '').join(' ');
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string') return JSON.stringify(value.message);
  return JSON.stringify(value);
}
