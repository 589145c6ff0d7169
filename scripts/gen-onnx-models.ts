// Writes smq's own ONNX graphs (src/consumers/engines/onnx/model-defs.ts) to models/*.onnx.
// Usage: npm run models [-- <out dir>]   (default: <repo>/models). Output is deterministic.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allModels } from '../src/consumers/engines/onnx/model-defs.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.resolve(process.argv[2] ?? path.join(repoRoot, 'models'));
mkdirSync(outDir, { recursive: true });
for (const [file, bytes] of Object.entries(allModels())) {
  writeFileSync(path.join(outDir, file), bytes);
  console.log(`${path.join(outDir, file)} (${bytes.length} bytes)`);
}
