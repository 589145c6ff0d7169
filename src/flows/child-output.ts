import type { HandlerContext } from '../consumers/handlers/types.ts';

/**
 * Where a step finds what one of its flow children produced, in order of trust:
 * 1. the child's job value (BullMQ keeps it in the parent even after `removeOnComplete`);
 * 2. the child's canonical row, if Complete (the job was re-created: a re-plan skipped the child);
 * 3. the path the plan fixed for that output (the same file the child was told to write).
 */
export async function childOutput(
  ctx: Pick<HandlerContext, 'children' | 'store'>,
  childTaskId: string,
  plannedPath: string | null | undefined,
): Promise<string> {
  const value = (await ctx.children())[childTaskId]?.output_location;
  if (typeof value === 'string' && value !== '') return value;
  const row = await ctx.store.get(childTaskId);
  if (row?.status === 'Complete' && row.outputLocation) return row.outputLocation;
  if (plannedPath) return plannedPath;
  throw new Error(`step ${childTaskId} left no output: no job value, no Complete row and no planned path`);
}
