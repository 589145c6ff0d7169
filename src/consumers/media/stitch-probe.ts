/**
 * What the stream-copy stitch must know about each input before it dares to copy: codec
 * parameters, the SPS/PPS (as a hash of the extradata) and which frames are keyframes. One ffprobe
 * per file that only demuxes (no decoding), so it costs milliseconds. fluent-ffmpeg's ffprobe
 * wrapper does not return packets, hence the direct call.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
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
  /** Set when an edit list starts the track late (its first packets are not shown). */
  editList?: string;
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
    if (p.editList) return `${name} has an edit list that hides frames (${p.editList})`;
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

/**
 * The same facts read straight from an MP4's sample tables (moov only, no ffprobe process: each
 * of those costs ~0.1 s of CPU and tens of MB just to start, and the copy stitch probes every
 * input plus its own two outputs). Returns null when the file is not a plain MP4/MOV with an avc1
 * video track (fragmented, another codec, no moov, unreadable): the caller asks ffprobe then.
 */
export async function probeMp4ForCopy(file: string): Promise<CopyProbe | null> {
  let moov: Buffer | null;
  try {
    moov = await readMoov(file);
  } catch {
    return null;
  }
  if (!moov) return null;
  try {
    return parseMoov(file, moov);
  } catch {
    return null;
  }
}

/** ffprobe only for what the sample tables cannot answer. */
export async function probeForCopyFast(file: string, signal?: AbortSignal): Promise<CopyProbe> {
  if (signal?.aborted) throw new CancelledError(`probe ${file}: aborted`);
  return (await probeMp4ForCopy(file)) ?? probeForCopy(file, signal);
}

interface Box {
  type: string;
  /** Payload bounds within the buffer. */
  start: number;
  end: number;
}

function boxesIn(buf: Buffer, start: number, end: number): Box[] {
  const out: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) throw new Error(`box ${type} overruns its parent`);
    out.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return out;
}

const child = (buf: Buffer, parent: Box, type: string) => boxesIn(buf, parent.start, parent.end).find((b) => b.type === type);

async function readMoov(file: string): Promise<Buffer | null> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(16);
    let at = 0;
    while (at + 8 <= size) {
      const { bytesRead } = await fh.read(head, 0, 16, at);
      if (bytesRead < 8) return null;
      let boxSize = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (boxSize === 1) {
        if (bytesRead < 16) return null;
        boxSize = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (boxSize === 0) {
        boxSize = size - at;
      }
      if (boxSize < header) return null;
      if (type === 'moof') return null;
      if (type === 'moov') {
        // Sample tables are ~20 bytes a frame; anything far larger is not a file we produced.
        if (boxSize > 64 << 20) return null;
        const moov = Buffer.alloc(boxSize - header);
        await fh.read(moov, 0, moov.length, at + header);
        return moov;
      }
      at += boxSize;
    }
    return null;
  } finally {
    await fh.close();
  }
}

/** Exp-Golomb reader over an SPS with its emulation-prevention bytes removed. */
function bitReader(nal: Buffer) {
  const bytes: number[] = [];
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    bytes.push(nal[i]);
  }
  let bit = 0;
  const u = (n: number) => {
    let v = 0;
    for (let k = 0; k < n; k++, bit++) {
      if (bit >> 3 >= bytes.length) throw new Error('SPS ends early');
      v = (v << 1) | ((bytes[bit >> 3] >> (7 - (bit & 7))) & 1);
    }
    return v;
  };
  const ue = () => {
    let zeros = 0;
    while (u(1) === 0) if (++zeros > 31) throw new Error('bad Exp-Golomb code');
    return (1 << zeros) - 1 + u(zeros);
  };
  return { u, ue };
}

/** profile_idc values whose SPS carries chroma_format_idc and bit depths (H.264 7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function pixFmtOf(sps: Buffer): string {
  const r = bitReader(sps);
  r.u(8); // NAL header
  const profileIdc = r.u(8);
  r.u(16); // constraint flags, level
  r.ue(); // seq_parameter_set_id
  let chroma = 1;
  let depthLuma = 8;
  let depthChroma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chroma = r.ue();
    if (chroma === 3) r.u(1);
    depthLuma = r.ue() + 8;
    depthChroma = r.ue() + 8;
  }
  if (chroma === 1 && depthLuma === 8 && depthChroma === 8) return 'yuv420p';
  return `h264 chroma_format_idc ${chroma}, ${depthLuma}/${depthChroma}-bit`;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function parseMoov(file: string, moov: Buffer): CopyProbe | null {
  const whole: Box = { type: 'moov', start: 0, end: moov.length };
  for (const trak of boxesIn(moov, whole.start, whole.end).filter((b) => b.type === 'trak')) {
    const mdia = child(moov, trak, 'mdia');
    const hdlr = mdia && child(moov, mdia, 'hdlr');
    if (!mdia || !hdlr || moov.toString('latin1', hdlr.start + 8, hdlr.start + 12) !== 'vide') continue;
    const mdhd = child(moov, mdia, 'mdhd')!;
    const timescale = moov[mdhd.start] === 1 ? moov.readUInt32BE(mdhd.start + 20) : moov.readUInt32BE(mdhd.start + 12);
    const minf = child(moov, mdia, 'minf');
    const stbl = minf && child(moov, minf, 'stbl');
    if (!stbl) return null;
    const stsd = child(moov, stbl, 'stsd')!;
    const [entry] = boxesIn(moov, stsd.start + 8, stsd.end);
    if (!entry || (entry.type !== 'avc1' && entry.type !== 'avc3')) return null;
    const width = moov.readUInt16BE(entry.start + 24);
    const height = moov.readUInt16BE(entry.start + 26);
    const inner = boxesIn(moov, entry.start + 78, entry.end);
    const avcC = inner.find((b) => b.type === 'avcC');
    if (!avcC) return null;
    const extradata = moov.subarray(avcC.start, avcC.end);
    const spsLen = extradata.readUInt16BE(6);
    const sps = extradata.subarray(8, 8 + spsLen);
    const pasp = inner.find((b) => b.type === 'pasp');
    // Without a pasp box the aspect ratio could still sit in the SPS; unknown is not 1:1.
    const sar = pasp ? `${moov.readUInt32BE(pasp.start)}:${moov.readUInt32BE(pasp.start + 4)}` : '';

    const stsz = child(moov, stbl, 'stsz')!;
    const frames = moov.readUInt32BE(stsz.start + 8);
    const stss = child(moov, stbl, 'stss');
    const keyframes = new Set<number>();
    if (stss) {
      const n = moov.readUInt32BE(stss.start + 4);
      for (let k = 0; k < n; k++) keyframes.add(moov.readUInt32BE(stss.start + 8 + 4 * k) - 1);
    } else {
      for (let k = 0; k < frames; k++) keyframes.add(k);
    }
    // Decode order ≠ display order shows as composition offsets.
    let hasBFrames = 0;
    const ctts = child(moov, stbl, 'ctts');
    if (ctts) {
      const n = moov.readUInt32BE(ctts.start + 4);
      for (let k = 0; k < n && !hasBFrames; k++) if (moov.readInt32BE(ctts.start + 8 + 8 * k + 4) !== 0) hasBFrames = 1;
    }
    const stts = child(moov, stbl, 'stts')!;
    const deltas = new Set<number>();
    const nStts = moov.readUInt32BE(stts.start + 4);
    for (let k = 0; k < nStts; k++) deltas.add(moov.readUInt32BE(stts.start + 8 + 8 * k + 4));
    let rate: [number, number] = [0, 1];
    if (deltas.size === 1) {
      const [d] = deltas;
      const g = gcd(timescale, d);
      rate = [timescale / g, d / g];
    }
    // An edit list that starts the track late hides frames the packets still hold.
    const edts = child(moov, trak, 'edts');
    const elst = edts && child(moov, edts, 'elst');
    let editList: string | undefined;
    if (elst) {
      const v1 = moov[elst.start] === 1;
      const n = moov.readUInt32BE(elst.start + 4);
      const mediaTime = n === 0 ? 0 : v1 ? Number(moov.readBigInt64BE(elst.start + 8 + 8)) : moov.readInt32BE(elst.start + 8 + 4);
      if (n > 1 || mediaTime !== 0) editList = `${n} edit(s), the first from media time ${mediaTime}`;
    }
    return {
      file,
      codec: 'h264',
      profile: `${extradata[1]}/${extradata[2]}`,
      pixFmt: pixFmtOf(sps),
      width,
      height,
      rate,
      hasBFrames,
      sar,
      extradataHash: `sha1:${createHash('sha1').update(extradata).digest('hex')}`,
      frames,
      keyframes,
      ...(editList ? { editList } : {}),
    };
  }
  return null;
}
