import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * A local server following Supabase Storage's HTTP API as far as smq uses it (shared/notes/protocols.md §2):
 * POST/PUT /storage/v1/object/<bucket>/<path> (x-upsert on POST, PUT always upserts), the service key
 * checked via `apikey` or `Authorization: Bearer`, errors as HTTP 400 with a string `statusCode` body,
 * and GET /storage/v1/object/public/<bucket>/<path> without a key.
 */
export interface StoredObject {
  body: Buffer;
  contentType: string;
  cacheControl: string | null;
}

export interface StorageStandin {
  url: string;
  objects: Map<string, StoredObject>; // key: "<bucket>/<path>"
  requests: { method: string; path: string; upsert: string | null }[];
  close(): Promise<void>;
}

export async function startStorageStandin(opts: { serviceKey: string; buckets: string[] }): Promise<StorageStandin> {
  const objects = new Map<string, StoredObject>();
  const requests: StorageStandin['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, Buffer.concat(chunks), res);
      } catch (err) {
        send(res, 500, { statusCode: '500', code: 'InternalError', error: 'internal', message: String(err) });
      }
    });
  });

  function handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const rawPath = url.pathname;
    requests.push({ method: req.method ?? '', path: rawPath, upsert: (req.headers['x-upsert'] as string | undefined) ?? null });
    const pub = '/storage/v1/object/public/';
    const obj = '/storage/v1/object/';
    if (req.method === 'GET' && rawPath.startsWith(pub)) {
      const { bucket, key } = split(decodeURIComponent(rawPath.slice(pub.length)));
      if (!opts.buckets.includes(bucket)) return storageError(res, '404', 'NoSuchBucket', 'Bucket not found', 'Bucket not found');
      const found = objects.get(`${bucket}/${key}`);
      if (!found) return storageError(res, '404', 'NoSuchKey', 'not_found', 'Object not found');
      res.writeHead(200, { 'content-type': found.contentType, 'content-length': found.body.length });
      res.end(found.body);
      return;
    }
    if ((req.method === 'POST' || req.method === 'PUT') && rawPath.startsWith(obj)) {
      const apikey = req.headers['apikey'];
      const bearer = (req.headers['authorization'] ?? '').replace(/^Bearer\s+/i, '');
      if (apikey !== opts.serviceKey && bearer !== opts.serviceKey) {
        return storageError(res, '403', 'AccessDenied', 'Unauthorized', 'invalid signature');
      }
      // Storage keys are not URL-encoded by the client; node hands us the raw path, so decode once.
      const { bucket, key } = split(decodeURIComponent(rawPath.slice(obj.length)));
      if (!opts.buckets.includes(bucket)) return storageError(res, '404', 'NoSuchBucket', 'Bucket not found', 'Bucket not found');
      const upsert = req.method === 'PUT' || req.headers['x-upsert'] === 'true';
      const full = `${bucket}/${key}`;
      if (objects.has(full) && !upsert) return storageError(res, '409', 'KeyAlreadyExists', 'Duplicate', 'The resource already exists');
      objects.set(full, {
        body,
        contentType: (req.headers['content-type'] as string | undefined) ?? 'application/octet-stream',
        cacheControl: (req.headers['cache-control'] as string | undefined) ?? null,
      });
      send(res, 200, { Id: randomUUID(), Key: full });
      return;
    }
    send(res, 404, { statusCode: '404', error: 'not_found', message: `no route ${req.method} ${rawPath}` });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    objects,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function split(p: string): { bucket: string; key: string } {
  const i = p.indexOf('/');
  return i < 0 ? { bucket: p, key: '' } : { bucket: p.slice(0, i), key: p.slice(i + 1) };
}

function storageError(res: http.ServerResponse, statusCode: string, code: string, error: string, message: string): void {
  // Storage answers 400 for every non-500 error; the meaningful status is the string in the body.
  send(res, 400, { statusCode, code, error, message });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
