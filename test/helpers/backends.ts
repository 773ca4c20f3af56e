import * as http from 'http';
import * as net from 'net';
import * as tls from 'tls';
import { freePort } from './ports';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** An HTTP server that answers every request with its own name, and remembers what it saw. */
export interface Backend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * Start an HTTP backend on loopback. The body is JSON `{"backend": name, "path": url, "headers":...}`
 * and the response carries `X-Backend: <name>`, so a test can tell who answered and what arrived.
 */
export async function startBackend(name: string, host = '127.0.0.1', port?: number): Promise<Backend> {
  const chosen = port ?? (await freePort(host));
  const requests: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ backend: name, path: req.url, headers: req.headers });
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Backend': name, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(chosen, host, resolve);
  });
  return {
    name,
    host,
    port: chosen,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP backend that greets each connection with `<name>\n` and then echoes what it gets. */
export async function startTcpBackend(name: string, host = '127.0.0.1'): Promise<Backend> {
  const port = await freePort(host);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    name,
    host,
    port,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The X-Backend header: which test backend answered, if any. */
  readonly backend?: string;
}

/** One plain HTTP/1.1 request without keep-alive (so every request sees the current config). */
export async function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: { Connection: 'close', ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const header = res.headers['x-backend'];
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          backend: typeof header === 'string' ? header : undefined,
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface RecordingBackend {
  readonly port: number;
  /** Bytes received per connection (an sni backend receives the raw TLS ClientHello). */
  readonly received: Buffer[];
  close(): Promise<void>;
}

/** A TCP server that only records what arrives: enough to see which sni backend was chosen. */
export async function startRecordingBackend(port: number): Promise<RecordingBackend> {
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => received.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Start a TLS handshake with `servername`; the backend behind HAProxy is not TLS, so it fails. */
export function helloWithSni(port: number, servername: string): void {
  const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  socket.on('error', () => socket.destroy());
  setTimeout(() => socket.destroy(), 2000);
}
