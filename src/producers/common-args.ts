import { z, type ZodError } from 'zod';
import { ENGINES } from '../core/types.ts';
import { ValidationError } from '../core/errors.ts';

/**
 * Options every `steerable-motion` sub-command takes (spec 01 §1.1 plus the e88631f flags of §1.4
 * that live on the shared parent parser). Keys are the seed's snake_case flag names, because they
 * are also the keys of `original_task_args` that old readers of the table look up.
 *
 * Defaults are the seed's (e88631f) except `execution_engine`, which is `onnx` (spec decision 7).
 */

/** The seed's default fade curve, verbatim: old readers compare the string. */
export const DEFAULT_FADE_JSON = '{"low_point": 0.0, "high_point": 1.0, "curve_type": "ease_in_out", "duration_factor": 0.0}';

/** BullMQ's priority range; 0 would mean "no priority", which is expressed by leaving it out. */
export const MAX_PRIORITY = 2_097_151;

const jsonObjectString = (flag: string) =>
  z.string().refine(
    (s) => {
      try {
        const v: unknown = JSON.parse(s);
        return typeof v === 'object' && v !== null && !Array.isArray(v);
      } catch {
        return false;
      }
    },
    { error: `must be a JSON object, e.g. ${flag === 'params_json_str' ? '\'{"guidance_scale": 5}\'' : `'${DEFAULT_FADE_JSON}'`}` },
  );

const int = () => z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' });
const num = () => z.number({ error: 'must be a number' }).finite({ error: 'must be a finite number' });

/** Shape of the common options, in the seed's argparse order (the order of `original_task_args`). */
export const commonShape = {
  resolution: z.string({ error: 'is required: give WIDTHxHEIGHT, e.g. --resolution 640x480' }),
  model_name: z.string().min(1, { error: 'must not be empty' }).default('vace_14B'),
  seed: int().default(12345),
  db_path: z.string().min(1).default('tasks.db'),
  output_dir: z.string().min(1, { error: 'must not be empty' }).default('./steerable_motion_output'),
  fps_helpers: int().positive({ error: 'must be > 0 frames per second, e.g. 25' }).default(25),
  output_video_frames: int().default(30),
  poll_interval: int().positive({ error: 'must be > 0 seconds' }).default(15),
  poll_timeout: int().positive({ error: 'must be > 0 seconds' }).default(1800),
  skip_cleanup: z.boolean().default(false),
  debug: z.boolean().default(false),
  use_causvid_lora: z.boolean().default(false),
  upscale_model_name: z.string().min(1).default('ltxv_13B'),
  last_frame_duplication: int().nonnegative({ error: 'must be >= 0 frames' }).default(0),
  final_image_strength: num().default(1.0),
  initial_image_strength: num().default(0.0),
  fade_in_duration: jsonObjectString('fade_in_duration').default(DEFAULT_FADE_JSON),
  fade_out_duration: jsonObjectString('fade_out_duration').default(DEFAULT_FADE_JSON),
  subsequent_starting_strength_adjustment: num().default(0.0),
  desaturate_subsequent_starting_frames: num().default(0.0),
  adjust_brightness_subsequent_starting_frames: num().default(0.0),
  execution_engine: z.enum(ENGINES, { error: `must be one of ${ENGINES.join(', ')}` }).default('onnx'),
  cfg_star_switch: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }).default(0),
  cfg_zero_step: int().default(-1),
  params_json_str: jsonObjectString('params_json_str').nullable().default(null),
  after_first_post_generation_saturation: num().nullable().default(null),
};

/** smq-only options, appended after the seed's keys. */
export const smqShape = {
  /** 1 = most urgent. BullMQ runs jobs without a priority before any prioritized job. */
  priority: int()
    .min(1, { error: `must be between 1 (most urgent) and ${MAX_PRIORITY}; leave it out for no priority` })
    .max(MAX_PRIORITY, { error: `must be at most ${MAX_PRIORITY} (BullMQ's limit)` })
    .nullable()
    .default(null),
};

/** Turns the first zod issue into a ValidationError naming the flag (`--<key>`) and the fix. */
export function toValidationError(err: ZodError): ValidationError {
  const issue = err.issues[0];
  if (!issue) return new ValidationError('options', 'are invalid');
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return new ValidationError(`--${keys[0]}`, `is not an option of this command; remove it (check the spelling against --help)`);
  }
  const key = issue.path.length > 0 ? String(issue.path[0]) : 'options';
  const where = issue.path.length > 1 ? ` (value #${Number(issue.path[1]) + 1})` : '';
  return new ValidationError(`--${key}`, `${issue.message}${where}`);
}

/** Parses with `schema`, converting failures to a flag-naming ValidationError. */
export function parseOptions<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw toValidationError(r.error);
  return r.data;
}
