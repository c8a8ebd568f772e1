/**
 * The `fetch` the Slack Web API client calls, on undici's `request()`: Node's global fetch (undici's WHATWG layer,
 * with web streams) costs about three times the CPU per call, and Slack calls are on the way to every credentials
 * DM. Only what @slack/web-api reads from a response is provided: status, statusText, url, headers (get, entries),
 * text(), json(), arrayBuffer(). Bodies other than a string or bytes (file uploads) go to the global fetch.
 */
import { STATUS_CODES } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';

let shared: Agent | undefined;

export function leanFetch(agent?: Agent): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    if (input instanceof Request || (body != null && typeof body !== 'string' && !(body instanceof Uint8Array))) {
      return fetch(input, init);
    }
    const url = typeof input === 'string' ? input : input.href;
    const res = await request(url, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: toHeaderRecord(init.headers),
      ...(body != null && { body }),
      ...(init.signal && { signal: init.signal }),
      dispatcher: agent ?? (shared ??= new Agent({ keepAliveTimeout: 30_000 })),
    });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
    }
    const text = () => bytes.toString('utf8');
    const lean = {
      ok: res.statusCode >= 200 && res.statusCode < 300,
      status: res.statusCode,
      statusText: STATUS_CODES[res.statusCode] ?? '',
      url,
      redirected: false,
      headers,
      text: async () => text(),
      json: async () => JSON.parse(text()) as unknown,
      arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    };
    return lean as unknown as Response;
  }) as typeof fetch;
}

function toHeaderRecord(headers: RequestInit['headers']): Record<string, string> {
  if (!headers) return {};
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  if (Array.isArray(headers)) return Object.fromEntries(headers);
  return headers as Record<string, string>;
}
