import { ValidationError } from '../core/errors.ts';

/**
 * The seed's `parse_resolution` (spec 01 §2.1): split on a lowercase `x`, each side an integer
 * (surrounding whitespace tolerated, as Python's int() does), both > 0. `X` is not a separator.
 * The message keeps the seed's wording, with Python's inner reason, so scripts grepping for it still match.
 */
export function parseResolution(raw: string, field = '--resolution'): [number, number] {
  const inner = resolutionProblem(raw);
  if (inner !== null) {
    throw new ValidationError(
      field,
      `Resolution string must be in WIDTHxHEIGHT format with positive integers (e.g., '960x544'), got ${raw}. Error: ${inner}`,
    );
  }
  const [w, h] = raw.split('x').map(toInt) as [number, number];
  return [w, h];
}

const INT_TEXT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

function toInt(part: string): number {
  return Number.parseInt(part.trim().replace(/_/g, ''), 10);
}

function resolutionProblem(raw: string): string | null {
  const parts = raw.split('x');
  if (parts.length < 2) return `not enough values to unpack (expected 2, got ${parts.length})`;
  if (parts.length > 2) return 'too many values to unpack (expected 2)';
  for (const p of parts) {
    if (!INT_TEXT.test(p)) return `invalid literal for int() with base 10: '${p}'`;
  }
  const [w, h] = parts.map(toInt) as [number, number];
  if (w <= 0 || h <= 0) return 'Width and height must be positive.';
  return null;
}
