import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The suite's closing table. Each test file runs in its own process under one `node --test`
 * runner, so rows go to a JSON-lines file named after the runner's pid (every file's parent);
 * the last file (zz-summary) prints and removes it.
 */
export interface ResultRow {
  fault: string;
  tries: number;
  survived: number;
  lost: number;
}

export function resultsFile(): string {
  return path.join(os.tmpdir(), `smq-fault-results-${process.env.SMQ_FAULT_RESULTS_ID ?? process.ppid}.jsonl`);
}

export function recordResult(row: ResultRow): void {
  appendFileSync(resultsFile(), `${JSON.stringify(row)}\n`);
}

export function readResults(): ResultRow[] {
  const f = resultsFile();
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultRow);
}

export function clearResults(): void {
  rmSync(resultsFile(), { force: true });
}

export function formatTable(rows: ResultRow[]): string {
  const head = ['fault or input', 'tries', 'survived', 'lost'];
  const body = rows.map((r) => [r.fault, String(r.tries), String(r.survived), String(r.lost)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n');
}
