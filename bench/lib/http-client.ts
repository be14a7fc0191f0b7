// A minimal keep-alive HTTP/1.1 client on node:http for load generation: as little client-side
// work per request as possible, so the numbers are the server's, not the client's.
import http from 'node:http';

export interface HttpResponse {
  status: number;
  body: Buffer;
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    baseUrl: string,
    private readonly token?: string,
    maxSockets = 16,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  /** `token` overrides the client's own for this request (one keep-alive pool for many tenants). */
  request(method: string, path: string, body?: unknown, token?: string): Promise<HttpResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    const bearer = token ?? this.token;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get(path: string): Promise<HttpResponse> {
    return this.request('GET', path);
  }

  /** GET that must answer 200; the body is read but not parsed (the timed path). */
  async getOk(path: string): Promise<void> {
    const res = await this.get(path);
    if (res.status !== 200) throw new Error(`GET ${path} → ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
  }

  async json<T = any>(method: string, path: string, body?: unknown, expect = 200): Promise<T> {
    const res = await this.request(method, path, body);
    if (res.status !== expect) throw new Error(`${method} ${path} → ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
    return JSON.parse(res.body.toString('utf8')) as T;
  }

  withToken(token: string): HttpClient {
    return new HttpClient(`http://${this.host}:${this.port}`, token);
  }

  close(): void {
    this.agent.destroy();
  }
}
