import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * No Docker engine runs here: Debian's docker-compose 1.29 validates and normalises the file without
 * one, and PyYAML (its own dependency) turns the normalised YAML into JSON for the checks below.
 */
interface Service {
  command?: string[] | string;
  image?: string;
  build?: unknown;
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string>;
  volumes?: unknown[];
}

function composeConfig(): { services: Record<string, Service>; volumes?: Record<string, unknown> } {
  const cfg = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { encoding: 'utf8', env: { ...process.env, SMQ_DASHBOARD_TOKEN: '' } });
  assert.equal(cfg.error, undefined, 'docker-compose is not installed (apt-get install -y docker-compose)');
  assert.equal(cfg.status, 0, `docker-compose config failed:\n${cfg.stderr}`);
  const toJson = spawnSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: cfg.stdout, encoding: 'utf8' });
  assert.equal(toJson.status, 0, toJson.stderr);
  return JSON.parse(toJson.stdout);
}

test('docker-compose.yml validates and has the services smq needs', { timeout: 60_000 }, () => {
  const { services, volumes } = composeConfig();
  for (const name of ['redis', 'postgres', 'worker', 'reconciler', 'dashboard']) assert.ok(services[name], `service ${name}`);

  const redisCmd = ([] as string[]).concat(services.redis!.command ?? []).join(' ');
  assert.match(redisCmd, /--appendonly yes/);
  assert.match(redisCmd, /--maxmemory-policy noeviction/);

  // Scalable: replicas of the worker must not collide on a name or a host port.
  assert.equal(services.worker!.container_name, undefined);
  assert.equal(services.worker!.ports, undefined);

  const pgVolumes = JSON.stringify(services.postgres!.volumes);
  assert.match(pgVolumes, /sql\/pg/);
  assert.match(pgVolumes, /docker-entrypoint-initdb\.d/);
  const init = readFileSync('src/ops/docker/pg-init.sh', 'utf8');
  assert.match(init, /func_smq_migrate/);
  assert.ok(existsSync('sql/pg'), 'sql/pg exists');

  for (const name of ['worker', 'reconciler', 'dashboard']) {
    const env = services[name]!.environment ?? {};
    assert.equal(env.DB_TYPE, 'postgres', `${name} DB_TYPE`);
    assert.match(env.DATABASE_URL ?? '', /^postgres:\/\/.+@postgres:5432\//, `${name} DATABASE_URL`);
    assert.equal(env.REDIS_URL, 'redis://redis:6379', `${name} REDIS_URL`);
    assert.match(JSON.stringify(services[name]!.volumes), /outputs/, `${name} shares the outputs volume`);
  }
  assert.ok(volumes && 'outputs' in volumes);
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  assert.match(dockerfile, /^FROM node:20-bookworm-slim/m);
  assert.match(dockerfile, /ffmpeg/);
  assert.match(dockerfile, /npm ci/);
});

test("every smq service's command exists (node bin/smq.js <cmd> --help exits 0)", { timeout: 180_000 }, () => {
  const { services } = composeConfig();
  const smqServices = Object.entries(services).filter(([, s]) => Array.isArray(s.command) && s.command[1] === 'bin/smq.js');
  assert.ok(smqServices.length >= 3, 'worker, reconciler and dashboard run smq');
  for (const [name, s] of smqServices) {
    const cmd = s.command as string[];
    assert.equal(cmd[0], 'node', `${name} runs node`);
    const r = spawnSync(process.execPath, ['bin/smq.js', cmd[2]!, '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${name}: smq ${cmd[2]} --help → ${r.status}\n${r.stderr}`);
    // The flags the service passes must be ones the command declares.
    for (const flag of cmd.slice(3).filter((a) => a.startsWith('--'))) assert.ok(r.stdout.includes(flag), `${name}: smq ${cmd[2]} has no ${flag}`);
  }
});
