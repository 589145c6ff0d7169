import { ValidationError } from '../../../core/errors.ts';

/**
 * Wan generates 4k+1 frames. smq asks for the next such length at or above what it needs and
 * trims afterwards (spec decision 2), so the guide's anchors always land on their frames.
 */
export function wanLength(frames: number): number {
  if (!Number.isInteger(frames) || frames < 1) throw new ValidationError('frames', `must be a positive integer, got ${frames}`);
  return frames === 1 ? 1 : Math.ceil((frames - 1) / 4) * 4 + 1;
}

/**
 * Splits a command line (SMQ_WGP_COMMAND) into argv without a shell, so killing the child kills
 * the adapter itself. Supports single and double quotes and backslash escapes outside quotes.
 */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new ValidationError('SMQ_WGP_COMMAND', `unterminated ${quote} quote in ${JSON.stringify(line)}`);
  if (has) out.push(cur);
  if (out.length === 0) throw new ValidationError('SMQ_WGP_COMMAND', 'is empty; give the adapter command, e.g. "python3 adapters/wgp/wgp_adapter.py"');
  return out;
}
