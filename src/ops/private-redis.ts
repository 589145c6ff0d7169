import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { ConfigError } from '../core/errors.ts';
import { redisAnswers } from '../core/redis.ts';

/**
 * Redis for the demo: the one at REDIS_URL when it answers, else a private, throw-away
 * `redis-server` (no persistence) on a free port, stopped with the demo.
 */
export interface DemoRedis {
  url: string;
  /** True when smq started this server itself. */
  private: boolean;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function findBinary(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const out = r.stdout?.trim();
  return r.status === 0 && out ? out : null;
}

export const HOW_TO_GET_REDIS =
  'no Redis answers and redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), ' +
  'or run one with Docker (docker run -p 6379:6379 redis:7), or point REDIS_URL at a Redis you have';

export async function ensureRedis(url: string, opts: { log?: (line: string) => void; binary?: string | null } = {}): Promise<DemoRedis> {
  if (await redisAnswers(url)) return { url, private: false, stop: async () => {} };
  const binary = opts.binary === undefined ? findBinary('redis-server') : opts.binary;
  if (!binary) throw new ConfigError('REDIS_URL', `${url}: ${HOW_TO_GET_REDIS}`);
  const port = await freePort();
  opts.log?.(`no Redis at ${url}; starting a private redis-server on 127.0.0.1:${port}`);
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const privateUrl = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(privateUrl, 500))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ConfigError('REDIS_URL', `the private redis-server did not start: ${stderr.trim() || 'no answer within 10 s'}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: privateUrl,
    private: true,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
