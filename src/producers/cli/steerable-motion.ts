// PLACEHOLDER: replaced by the producers area.
export async function main(_argv: string[]): Promise<void> {
  process.stderr.write('steerable-motion: not built yet\n');
  process.exitCode = 1;
}
