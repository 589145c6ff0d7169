/**
 * Redis stream ids are `<ms>-<seq>`. They compare numerically part by part, never as strings
 * ("9-0" < "10-0"), and the ms part is the time Redis wrote the event, which is what lag is measured from.
 */

export const STREAM_START = '0-0';

export function parseStreamId(id: string): { ms: number; seq: number } {
  const dash = id.indexOf('-');
  const ms = Number(dash === -1 ? id : id.slice(0, dash));
  const seq = dash === -1 ? 0 : Number(id.slice(dash + 1));
  if (!Number.isFinite(ms) || !Number.isFinite(seq)) throw new Error(`not a stream id: ${JSON.stringify(id)}`);
  return { ms, seq };
}

export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  return x.ms !== y.ms ? x.ms - y.ms : x.seq - y.seq;
}

export function streamIdTimeMs(id: string): number {
  return parseStreamId(id).ms;
}

/**
 * True when entries after `cursor` may have been trimmed away: the oldest surviving entry is newer
 * than the cursor's successor. XREAD would silently skip the gap, so the caller must sweep.
 */
export function cursorWasTrimmed(cursor: string | null, firstEntryId: string | null): boolean {
  if (cursor === null || firstEntryId === null || cursor === STREAM_START) return false;
  return compareStreamIds(cursor, firstEntryId) < 0 && !isImmediateSuccessor(cursor, firstEntryId);
}

function isImmediateSuccessor(a: string, b: string): boolean {
  const x = parseStreamId(a);
  const y = parseStreamId(b);
  return x.ms === y.ms && y.seq === x.seq + 1;
}
