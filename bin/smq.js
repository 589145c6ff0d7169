#!/usr/bin/env node
// Runs the TypeScript sources through tsx so `npx smq` works straight after `npm ci`, no build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/smq.ts');
await main(process.argv);
