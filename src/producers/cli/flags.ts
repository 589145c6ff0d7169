import { Command, Option } from 'commander';
import { ValidationError } from '../../core/errors.ts';
import { DEFAULT_FADE_JSON } from '../common-args.ts';

/**
 * The `steerable-motion` flag table (spec 01 §1.1–1.4 with e88631f defaults) and the conversion of
 * commander's strings into typed options. Flags keep the seed's snake_case names; kebab-case
 * spellings and unambiguous prefixes (argparse's abbreviation, which the seed had on) are
 * normalised to them before commander sees argv.
 */

export type FlagKind = 'string' | 'int' | 'float' | 'bool' | 'strings' | 'ints' | 'json';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  help: string;
  required?: boolean;
  /** Shown in --help; the schema applies the real default. */
  defaultText?: string;
  choices?: readonly string[];
}

export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'resolution', kind: 'string', help: 'output size WIDTHxHEIGHT, e.g. 640x480', required: true },
  { name: 'model_name', kind: 'string', help: 'model for the generation steps', defaultText: 'vace_14B' },
  { name: 'seed', kind: 'int', help: 'base seed (travel: segment i uses seed+i; pose: final video uses seed+1)', defaultText: '12345' },
  { name: 'db_path', kind: 'string', help: 'SQLite file of the tasks table (when DB_TYPE=sqlite); beats SQLITE_DB_PATH_ENV', defaultText: 'tasks.db' },
  { name: 'output_dir', kind: 'string', help: 'where the final video and the run folders go', defaultText: './steerable_motion_output' },
  { name: 'fps_helpers', kind: 'int', help: 'frames per second of guide videos and of the final video', defaultText: '25' },
  { name: 'output_video_frames', kind: 'int', help: 'frames of the different_pose video (>= 2)', defaultText: '30' },
  { name: 'poll_interval', kind: 'int', help: 'seconds between status reads with --wait (the seed polled the table)', defaultText: '15' },
  { name: 'poll_timeout', kind: 'int', help: 'recorded for compatibility (smq workers do not poll sub-tasks)', defaultText: '1800' },
  { name: 'skip_cleanup', kind: 'bool', help: 'keep intermediate files' },
  { name: 'debug', kind: 'bool', help: 'verbose logs, keep intermediates, write executed_command.txt in the log folder' },
  { name: 'use_causvid_lora', kind: 'bool', help: 'use the CausVid LoRA for generation steps' },
  { name: 'upscale_model_name', kind: 'string', help: 'model for the optional upscale', defaultText: 'ltxv_13B' },
  { name: 'last_frame_duplication', kind: 'int', help: 'extra copies of the last frame', defaultText: '0' },
  { name: 'final_image_strength', kind: 'float', help: 'VACE strength of each segment\'s end anchor (0..1)', defaultText: '1.0' },
  { name: 'initial_image_strength', kind: 'float', help: 'VACE strength of each segment\'s start anchor (0..1)', defaultText: '0.0' },
  { name: 'fade_in_duration', kind: 'json', help: 'fade-in curve as JSON', defaultText: DEFAULT_FADE_JSON },
  { name: 'fade_out_duration', kind: 'json', help: 'fade-out curve as JSON', defaultText: DEFAULT_FADE_JSON },
  { name: 'subsequent_starting_strength_adjustment', kind: 'float', help: 'strength change of later segments\' starting frames', defaultText: '0.0' },
  { name: 'desaturate_subsequent_starting_frames', kind: 'float', help: 'desaturation of later segments\' starting frames', defaultText: '0.0' },
  { name: 'adjust_brightness_subsequent_starting_frames', kind: 'float', help: 'brightness change of later segments\' starting frames', defaultText: '0.0' },
  { name: 'after_first_post_generation_saturation', kind: 'float', help: 'saturation applied to segments after the first' },
  { name: 'execution_engine', kind: 'string', help: 'engine of the generation steps', defaultText: 'onnx', choices: ['onnx', 'wgp', 'comfyui'] },
  { name: 'cfg_star_switch', kind: 'int', help: 'CFG-star on (1) or off (0)', defaultText: '0' },
  { name: 'cfg_zero_step', kind: 'int', help: 'CFG zero step (-1 = off)', defaultText: '-1' },
  { name: 'params_json_str', kind: 'json', help: 'JSON object of extra generation parameters (overrides)' },
  { name: 'priority', kind: 'int', help: 'BullMQ priority, 1 = most urgent (jobs without a priority run before prioritized ones)' },
];

export const TRAVEL_FLAGS: FlagSpec[] = [
  { name: 'input_images', kind: 'strings', help: 'anchor images, in travel order', required: true },
  { name: 'base_prompts', kind: 'strings', help: 'one prompt, or one per segment', required: true },
  { name: 'negative_prompts', kind: 'strings', help: 'one negative prompt, or one per segment', defaultText: '""' },
  { name: 'segment_frames', kind: 'ints', help: 'frames per segment: one value, or one per segment', defaultText: '81' },
  { name: 'frame_overlap', kind: 'ints', help: 'frames cross-faded with the next segment: one value, or one per segment', defaultText: '16' },
  { name: 'upscale_factor', kind: 'float', help: 'upscale the final video by this factor (0 = off)', defaultText: '0.0' },
  { name: 'continue_from_video', kind: 'string', help: 'extend this video (local path or http(s) URL); each image then ends one segment' },
  { name: 'segment_mode', kind: 'string', help: 'chained: each segment continues from the previous one (the seed); independent: segments only need their anchors and run in parallel', defaultText: 'chained', choices: ['chained', 'independent'] },
];

export const POSE_FLAGS: FlagSpec[] = [
  { name: 'input_image', kind: 'string', help: 'image of the character', required: true },
  { name: 'prompt', kind: 'string', help: 'the target pose / scene', required: true },
];

/** CLI-only flags (not task options). */
export const OUTPUT_FLAGS: FlagSpec[] = [
  { name: 'wait', kind: 'bool', help: 'follow the run with a progress bar per step until the final video exists' },
  { name: 'json', kind: 'bool', help: 'print one JSON object instead of text' },
];

function usage(f: FlagSpec): string {
  const arg = f.kind === 'bool' ? '' : f.kind === 'strings' || f.kind === 'ints' ? ' <values...>' : f.kind === 'int' ? ' <int>' : f.kind === 'float' ? ' <number>' : f.kind === 'json' ? ' <json>' : ' <value>';
  return `--${f.name}${arg}`;
}

export function addFlags(cmd: Command, flags: readonly FlagSpec[]): Command {
  for (const f of flags) {
    const help = `${f.help}${f.choices ? ` (${f.choices.join('|')})` : ''}${f.defaultText ? ` [default: ${f.defaultText}]` : ''}`;
    const opt = new Option(usage(f), help);
    if (f.required) opt.makeOptionMandatory(true);
    cmd.addOption(opt);
  }
  return cmd;
}

/**
 * Rewrites `--segment-frames` to `--segment_frames` and an unambiguous prefix (`--segment_f`) to the
 * full flag, in every token before a bare `--`. Ambiguous prefixes are refused naming the candidates.
 */
export function normaliseArgv(args: readonly string[], known: readonly string[]): string[] {
  const names = new Set(known);
  const out: string[] = [];
  let passthrough = false;
  for (const tok of args) {
    if (passthrough || !tok.startsWith('--') || tok === '--') {
      if (tok === '--') passthrough = true;
      out.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const raw = (eq === -1 ? tok.slice(2) : tok.slice(2, eq)).replace(/-/g, '_');
    const rest = eq === -1 ? '' : tok.slice(eq);
    let name = raw;
    if (!names.has(raw)) {
      const candidates = known.filter((k) => k.startsWith(raw));
      if (candidates.length === 1) name = candidates[0]!;
      else if (candidates.length > 1) {
        throw new ValidationError(`--${raw}`, `is ambiguous: it could be ${candidates.map((c) => `--${c}`).join(', ')}; write the flag in full`);
      } else {
        out.push(tok); // unknown: commander reports it with its suggestion
        continue;
      }
    }
    out.push(`--${name}${rest}`);
  }
  return out;
}

/**
 * argparse semantics for repeated flags: the last occurrence wins. Commander would append the values
 * of a repeated variadic flag instead, so earlier occurrences (and their values) are dropped here.
 */
export function lastOccurrenceWins(args: readonly string[], variadic: readonly string[]): string[] {
  const isOption = (t: string) => t.startsWith('-') && !/^-\d/.test(t) && t !== '-';
  const end = args.indexOf('--');
  const head = end === -1 ? [...args] : args.slice(0, end);
  const tail = end === -1 ? [] : args.slice(end);
  const flagOf = (t: string) => (t.startsWith('--') ? t.slice(2).split('=')[0]! : null);
  const last = new Map<string, number>();
  head.forEach((t, i) => {
    const f = flagOf(t);
    if (f && variadic.includes(f)) last.set(f, i);
  });
  const out: string[] = [];
  for (let i = 0; i < head.length; i++) {
    const t = head[i]!;
    const f = flagOf(t);
    if (f && variadic.includes(f) && last.get(f) !== i) {
      if (!t.includes('=')) while (i + 1 < head.length && !isOption(head[i + 1]!)) i++;
      continue;
    }
    out.push(t);
  }
  return [...out, ...tail];
}

const INT = /^\s*[+-]?\d+\s*$/;

function toInt(flag: string, v: string): number {
  if (!INT.test(v)) throw new ValidationError(`--${flag}`, `${JSON.stringify(v)} is not an integer; give a whole number, e.g. --${flag} 30`);
  return Number.parseInt(v, 10);
}

function toFloat(flag: string, v: string): number {
  const n = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(n)) throw new ValidationError(`--${flag}`, `${JSON.stringify(v)} is not a number; give e.g. --${flag} 0.5`);
  return n;
}

/** Converts commander's raw option values into the typed input the API's schemas take. */
export function convertFlags(raw: Record<string, unknown>, flags: readonly FlagSpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of flags) {
    const v = raw[f.name];
    if (v === undefined) continue;
    switch (f.kind) {
      case 'bool':
        out[f.name] = v === true;
        break;
      case 'int':
        out[f.name] = toInt(f.name, String(v));
        break;
      case 'float':
        out[f.name] = toFloat(f.name, String(v));
        break;
      case 'ints':
        out[f.name] = (v as string[]).map((x) => toInt(f.name, x));
        break;
      case 'strings':
        out[f.name] = [...(v as string[])];
        break;
      default:
        out[f.name] = String(v);
    }
  }
  return out;
}
