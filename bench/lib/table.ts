// The one results table: suite | measurement | ours | baseline | baseline value | ratio.
import type { Row } from './types.js';

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function withRatios(rows: Row[]): Row[] {
  return rows.map((r) => (r.baseline && r.baseline.value !== 0 && r.ratio === undefined ? { ...r, ratio: r.value / r.baseline.value } : r));
}

/** Aligned plain-text table (also valid Markdown). */
export function renderTable(rows: Row[]): string {
  const header = ['suite', 'measurement', 'ours', 'baseline', 'baseline value', 'ratio'];
  const body = rows.map((r) => [
    r.suite,
    r.metric + (r.note ? ` [${r.note}]` : ''),
    `${formatNumber(r.value)} ${r.unit}`,
    r.baseline?.name ?? '',
    r.baseline ? `${formatNumber(r.baseline.value)} ${r.unit}` : '',
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : '',
  ]);
  const numeric = [false, false, true, false, true, true];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}
