// How results are printed: tables for people, JSON for scripts (--output json). Data goes to
// stdout; progress and hints go to stderr, so `$(cachestore …)` captures only the answer.

export type OutputMode = 'table' | 'json';

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (Array.isArray(v)) return v.length ? v.join(',') : '-';
  return String(v);
}

/** A plain aligned table (no borders: easy to read, grep and paste). */
export function renderTable<T>(rows: T[], columns: Array<Column<T>>): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
  const line = (parts: string[]) => parts.map((p, i) => (i === parts.length - 1 ? p : p.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** `key  value` lines, aligned. */
export function renderFields(fields: Array<[string, unknown]>): string {
  const w = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(w)}  ${cell(v)}`).join('\n') + '\n';
}

export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
