import type { Command } from 'commander';

// PLACEHOLDER: replaced by the area that owns this file.
export function registerRunCommands(_program: Command): void {}
