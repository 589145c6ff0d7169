import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '../../src/core/errors.ts';
import { checkInputFiles } from '../../src/producers/media-check.ts';

const execFileP = promisify(execFile);

describe('checkInputFiles (many inputs for one flag, real ffprobe)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'smq-media-check-'));
    for (const [name, color] of [['a.png', 'red'], ['b.png', 'blue']] as const) {
      await execFileP('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `color=c=${color}:s=16x16`, '-frames:v', '1', path.join(dir, name)]);
    }
    await writeFile(path.join(dir, 'text.png'), 'not an image at all');
    await writeFile(path.join(dir, 'notes.txt'), 'also not an image');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const refusal = async (files: string[]) => {
    const err = await checkInputFiles(files, 'image', '--input_images', dir).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ValidationError, String(err));
    return err as ValidationError;
  };

  it('returns absolute paths in the given order, duplicates kept', async () => {
    const files = ['a.png', 'b.png', 'a.png', path.join(dir, 'b.png')];
    assert.deepEqual(await checkInputFiles(files, 'image', '--input_images', dir), files.map((f) => path.resolve(dir, f)));
  });

  it('a missing file is reported before any file is probed, even after thousands of good ones', async () => {
    // text.png would fail its probe; the missing last file is found first because paths are stat'ed first.
    const files = ['text.png', ...Array<string>(5000).fill('a.png'), 'missing_5002.png'];
    const err = await refusal(files);
    assert.equal(err.field, '--input_images');
    assert.match(err.message, /missing_5002\.png does not exist/);
  });

  it('of several unreadable images, the first in the given order is named', async () => {
    const err = await refusal(['a.png', 'b.png', 'notes.txt', 'a.png', 'text.png']);
    assert.match(err.message, /notes\.txt is not an image ffprobe can read/);
    const err2 = await refusal(['text.png', 'notes.txt']);
    assert.match(err2.message, /text\.png is not an image/);
  });

  it('a video where an image is needed is refused with what it is', async () => {
    await execFileP('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=green:s=16x16:d=0.2', '-pix_fmt', 'yuv420p', path.join(dir, 'clip.mp4')]);
    const err = await refusal(['a.png', 'clip.mp4']);
    assert.match(err.message, /clip\.mp4 is a video .* but an image is needed here/);
  });
});
