/**
 * What the stream-copy stitch must know about each input before it dares to copy: codec
 * parameters, the SPS/PPS (as a hash of the extradata) and which frames are keyframes. One ffprobe
 * per file that only demuxes (no decoding), so it costs milliseconds. fluent-ffmpeg's ffprobe
 * wrapper does not return packets, hence the direct call.
 */
import { execFile } from 'node:child_process';
import { CancelledError, MediaError } from '../../core/errors.ts';

export interface CopyProbe {
  file: string;
  codec: string;
  profile: string;
  pixFmt: string;
  width: number;
  height: number;
  /** r_frame_rate as num/den, so 25 and 30000/1001 compare exactly. */
  rate: [number, number];
  hasBFrames: number;
  sar: string;
  extradataHash: string;
  /** Packets in decode order (= frames when there are no B-frames). */
  frames: number;
  /** Indices of key packets. */
  keyframes: Set<number>;
}

export function probeForCopy(file: string, signal?: AbortSignal): Promise<CopyProbe> {
  const args = [
    '-v', 'error', '-select_streams', 'v:0', '-show_data_hash', 'MD5',
    '-show_entries', 'stream=codec_name,profile,pix_fmt,width,height,r_frame_rate,has_b_frames,sample_aspect_ratio,extradata_hash:packet=flags',
    '-of', 'json', file,
  ];
  return new Promise((resolve, reject) => {
    execFile('ffprobe', args, { maxBuffer: 64 << 20, signal }, (err, stdout, stderr) => {
      if (err) {
        if (signal?.aborted) return reject(new CancelledError(`probe ${file}: aborted`));
        return reject(new MediaError(`ffprobe ${file} failed: ${String(stderr).trim().split('\n').pop() || err.message}`, { cause: err }));
      }
      try {
        const data = JSON.parse(stdout) as { streams?: Record<string, unknown>[]; packets?: { flags?: string }[] };
        const s = data.streams?.[0];
        if (!s) throw new MediaError(`${file} has no video stream`);
        const [num, den = '1'] = String(s.r_frame_rate ?? '0/1').split('/');
        const keyframes = new Set<number>();
        (data.packets ?? []).forEach((p, i) => p.flags?.startsWith('K') && keyframes.add(i));
        resolve({
          file,
          codec: String(s.codec_name ?? ''),
          profile: String(s.profile ?? ''),
          pixFmt: String(s.pix_fmt ?? ''),
          width: Number(s.width),
          height: Number(s.height),
          rate: [Number(num), Number(den)],
          hasBFrames: Number(s.has_b_frames ?? 0),
          sar: String(s.sample_aspect_ratio ?? ''),
          extradataHash: String(s.extradata_hash ?? ''),
          frames: data.packets?.length ?? 0,
          keyframes,
        });
      } catch (e) {
        reject(e instanceof MediaError ? e : new MediaError(`ffprobe ${file}: unreadable output (${(e as Error).message})`));
      }
    });
  });
}

/** fps as a fraction, when it is one with a small denominator (25, 16, 30000/1001…). */
export function rateOf(fps: number): [number, number] {
  for (const den of [1, 1001, 2, 3, 4, 5, 6, 8, 10, 100, 1000]) {
    const num = Math.round(fps * den);
    if (Math.abs(num / den - fps) < 1e-9) return [num, den];
  }
  return [fps, 1];
}

/**
 * Why the inputs cannot be stitched by copying (null when they can). Pure: decides from probes.
 * Lengths too short for their overlaps are not a reason here; the caller reports those as bad input.
 */
export function whyNotCopyable(probes: readonly CopyProbe[], overlaps: readonly number[], target: { width: number; height: number; fps: number }): string | null {
  const [rn, rd] = rateOf(target.fps);
  const first = probes[0];
  for (const [i, p] of probes.entries()) {
    const name = `inputs[${i}] (${p.file})`;
    if (p.codec !== 'h264' || p.pixFmt !== 'yuv420p') return `${name} is ${p.codec}/${p.pixFmt}, not h264/yuv420p`;
    if (p.width !== target.width || p.height !== target.height) return `${name} is ${p.width}x${p.height}, the stitch is ${target.width}x${target.height}`;
    if (p.rate[0] * rd !== rn * p.rate[1]) return `${name} runs at ${p.rate.join('/')} fps, the stitch at ${target.fps}`;
    if (p.hasBFrames !== 0) return `${name} has B-frames (decode order ≠ display order)`;
    if (p.sar !== '1:1') return `${name} has sample aspect ratio ${p.sar}, not 1:1`;
    if (p.extradataHash === '' || p.extradataHash !== first.extradataHash || p.profile !== first.profile) return `${name} has other codec headers than inputs[0] (not encoded with the stitch recipe)`;
    const cin = i > 0 ? overlaps[i - 1] : 0;
    const cout = i < overlaps.length ? overlaps[i] : 0;
    if (cin + cout > p.frames) continue;
    const need = [0, ...(cin > 0 && cin < p.frames - cout ? [cin] : []), ...(cout > 0 ? [p.frames - cout] : [])];
    const missing = need.filter((k) => !p.keyframes.has(k));
    if (missing.length) return `${name} has no keyframe at frame(s) ${missing.join(', ')}`;
  }
  return null;
}
