#!/usr/bin/env node
// Same loader as bin/smq.js; the seed's client CLI, kept under its own name.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/producers/cli/steerable-motion.ts');
await main(process.argv);
