import type { Command } from 'commander';

// PLACEHOLDER: replaced by the area that owns this file.
export function registerWorkerCommand(_program: Command): void {}
