/** The Slack client's fetch (src/chat/slack/lean-fetch.ts) answers what @slack/web-api reads, as the global fetch does. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leanFetch } from '../../src/chat/slack/lean-fetch.js';

describe('leanFetch', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ method?: string; headers: Record<string, unknown>; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, headers: req.headers, body });
        if (req.url === '/limited') {
          res.writeHead(429, { 'retry-after': '7' }).end();
        } else if (req.url === '/broken') {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream down');
        } else {
          res
            .writeHead(200, { 'content-type': 'application/json', 'x-oauth-scopes': 'chat:write,im:write' })
            .end(JSON.stringify({ ok: true, echo: body }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers like fetch: status, headers, body as JSON / text / bytes, and sends method, headers and body', async () => {
    const lean = leanFetch();
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer xoxb-test' },
      body: 'channel=C1&text=hi',
    };
    const [a, b] = await Promise.all([
      lean(`${base}/api/chat.postMessage`, init),
      fetch(`${base}/api/chat.postMessage`, init),
    ]);
    expect(a.status).toBe(b.status);
    expect(a.statusText).toBe(b.statusText);
    expect(a.headers.get('content-type')).toBe(b.headers.get('content-type'));
    expect(a.headers.get('x-oauth-scopes')).toBe('chat:write,im:write');
    expect(await a.json()).toEqual(await b.json());
    expect(seen.at(-1)).toMatchObject({ method: 'POST', body: 'channel=C1&text=hi' });
    expect(seen.at(-1)!.headers.authorization).toBe('Bearer xoxb-test');
    const again = await lean(`${base}/api/x`, init);
    expect(Buffer.from(await again.arrayBuffer()).toString()).toBe(
      JSON.stringify({ ok: true, echo: 'channel=C1&text=hi' }),
    );
  });

  it('passes 429 Retry-After and a 5xx body through for the client to retry on', async () => {
    const lean = leanFetch();
    const limited = await lean(`${base}/limited`, { method: 'POST', body: '' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    const broken = await lean(`${base}/broken`, { method: 'POST', body: '' });
    expect(broken.status).toBe(503);
    expect(broken.statusText).toBe('Service Unavailable');
    expect(await broken.text()).toBe('upstream down');
    expect(Object.fromEntries(broken.headers.entries())['content-type']).toBe('text/plain');
  });

  it('hands a body it does not stream itself (a multipart upload) to the global fetch', async () => {
    const form = new FormData();
    form.append('file', new Blob(['a,b\n1,2\n']), 'report.csv');
    const res = await leanFetch()(`${base}/upload`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(String(seen.at(-1)!.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen.at(-1)!.body).toContain('a,b\n1,2\n');
  });

  it('gives up when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      leanFetch()(`${base}/api/x`, { method: 'POST', body: 'x', signal: controller.signal }),
    ).rejects.toThrow();
  });
});
