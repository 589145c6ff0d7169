import type { Command } from 'commander';

// PLACEHOLDER: replaced by the area that owns this file.
export function registerDbCommands(_program: Command): void {}
