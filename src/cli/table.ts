// Plain-text tables for the terminal: columns padded to their widest cell. Cells often hold
// what peers or clients supplied (member ids, addresses), so control characters are escaped.
import { terminalSafe } from './terminal-text.ts';

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const safeRows = rows.map((r) => header.map((_, i) => terminalSafe(r[i] ?? '')));
  const widths = header.map((h, i) => Math.max(h.length, ...safeRows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...safeRows.map(line)].join('\n');
}
