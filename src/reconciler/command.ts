import type { Command } from 'commander';

// PLACEHOLDER: replaced by the area that owns this file.
export function registerReconcileCommand(_program: Command): void {}
