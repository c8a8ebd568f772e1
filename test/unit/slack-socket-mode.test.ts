/**
 * The Socket Mode server of the Slack double, exercised by a raw `ws` client (to see the wire) and by a real Bolt App
 * in Socket Mode (@slack/socket-mode's client: apps.connections.open, hello, acks, heartbeat, reconnects).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { App, LogLevel, webApi, type Logger } from '@slack/bolt';
import { startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import { slashCommand, viewSubmissionPayload, appHomeOpenedEvent } from '../../dev/slack/sign.js';
import { APPS_CONNECTIONS_OPEN, attachSocketMode, type SocketModeServer } from '../../dev/slack/socket-mode.js';

const { WebClient } = webApi;

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

/** A raw client: every parsed frame it received, and a way to wait for one. */
function rawClient(url: string) {
  const ws = new WebSocket(url);
  const frames: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  ws.on('message', (d) => {
    frames.push(JSON.parse(String(d)) as Record<string, unknown>);
    for (const l of [...listeners]) l();
  });
  const next = (pred: (f: Record<string, unknown>) => boolean, timeoutMs = 5000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const f = frames.find(pred);
        if (!f) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(f);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(frames)}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, frames, next, opened, closed };
}

/** Connect attempt that resolves with the HTTP status of a refused handshake (or 101). */
function handshakeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', () => undefined);
  });
}

describe('Socket Mode server of the Slack double', () => {
  let slack: SlackDouble;
  let sm: SocketModeServer;

  beforeAll(async () => {
    slack = await startSlackDouble();
    sm = await attachSocketMode(slack, { pingIntervalMs: 200 });
  });

  afterAll(async () => {
    await sm?.stop();
    await slack?.stop();
  });

  const openUrl = async (token = sm.appToken) => {
    const client = new WebClient(undefined, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      headers: { Authorization: `Bearer ${token}` },
      logger: silent,
    });
    return (await client.apps.connections.open({})).url!;
  };

  it('apps.connections.open wants the app-level token in the Authorization header', async () => {
    const url = await openUrl();
    expect(url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/link/\\?ticket=[0-9a-f]{32}&app_id=${slack.appId}$`));
    const call = slack.callsTo(APPS_CONNECTIONS_OPEN).at(-1)!;
    expect(call).toMatchObject({ ok: true, token: sm.appToken });
    await expect(openUrl('xapp-1-A0OTHER-1-nope')).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    await expect(openUrl(slack.botToken)).rejects.toMatchObject({ data: { error: 'not_allowed_token_type' } });
    const anonymous = await fetch(`${slack.url}${APPS_CONNECTIONS_OPEN}`, { method: 'POST' });
    expect(await anonymous.json()).toEqual({ ok: false, error: 'not_authed' });
    // The bot token still works for the rest of the Web API; the app token does not.
    const bot = new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logger: silent });
    expect((await bot.auth.test()).ok).toBe(true);
  });

  it('refuses unknown and reused tickets at the handshake', async () => {
    const url = await openUrl();
    expect(await handshakeStatus(url.replace(/ticket=[0-9a-f]+/, 'ticket=deadbeef'))).toBe(401);
    expect(await handshakeStatus(url)).toBe(101);
    expect(await handshakeStatus(url)).toBe(401);
    await sm.waitForClose();
  });

  it('says hello, relays envelopes and acks, pings, and tells the client to go away', async () => {
    const c = rawClient(await openUrl());
    await c.opened;
    const hello = await c.next((f) => f.type === 'hello');
    expect(hello).toMatchObject({
      type: 'hello',
      num_connections: 1,
      connection_info: { app_id: slack.appId },
      debug_info: { host: expect.any(String) },
    });
    const [conn] = sm.openConnections();
    expect(conn).toMatchObject({ open: true, appToken: sm.appToken });

    // An envelope, acked with a payload.
    const acked = sm.sendInteraction({ type: 'view_submission', view: { id: 'V1' } });
    const env = await c.next((f) => f.type === 'interactive');
    expect(env).toMatchObject({
      envelope_id: expect.any(String),
      accepts_response_payload: true,
      payload: { type: 'view_submission' },
    });
    c.ws.send(JSON.stringify({ envelope_id: env.envelope_id, payload: { response_action: 'clear' } }));
    const ack = await acked;
    expect(ack).toMatchObject({
      envelope_id: env.envelope_id,
      payload: { response_action: 'clear' },
      connectionId: conn!.id,
    });
    expect(ack.elapsedMs).toBeGreaterThanOrEqual(0);

    // events_api envelopes carry the event_callback body and retry fields; bare events are wrapped.
    const evAck = sm.sendEvent({ type: 'app_mention', user: 'U0ALICE', text: 'hi' });
    const ev = await c.next((f) => f.type === 'events_api');
    expect(ev).toMatchObject({
      accepts_response_payload: false,
      retry_attempt: 0,
      retry_reason: '',
      payload: { type: 'event_callback', event: { type: 'app_mention' } },
    });
    c.ws.send(JSON.stringify({ envelope_id: ev.envelope_id }));
    expect((await evAck).payload).toBeUndefined();

    // No ack → rejected at the deadline.
    await expect(
      sm.sendSlashCommand(slashCommand({ userId: 'U0ALICE', text: 'x' }), { timeoutMs: 100 }),
    ).rejects.toThrow(/no ack for slash_commands envelope/);

    // The server pings; the ws client answers with pongs. Client pings are answered too.
    await sm.waitUntil(() => sm.openConnections()[0]!.pongsFromClient >= 1, { timeoutMs: 3000 });
    c.ws.ping();
    await sm.waitUntil(() => sm.openConnections()[0]!.pingsFromClient >= 1, { timeoutMs: 3000 });

    // A pending envelope fails as soon as its connection closes.
    const orphan = sm.sendSlashCommand(slashCommand({ userId: 'U0ALICE', text: 'y' }), { timeoutMs: 5000 });
    await c.next((f) => f.type === 'slash_commands' && (f.payload as { text?: string }).text === 'y');
    sm.disconnect('link_disabled');
    const bye = await c.next((f) => f.type === 'disconnect');
    expect(bye).toMatchObject({ reason: 'link_disabled', debug_info: { host: expect.any(String) } });
    c.ws.close(1000);
    await expect(orphan).rejects.toThrow(/closed \(1000\) before envelope/);
    expect(await c.closed).toBe(1000);
    const closed = (await sm.waitForClose()).find((x) => x.id === conn!.id)!;
    expect(closed).toMatchObject({ open: false, closeCode: 1000, closedBy: 'client' });
  });

  describe('with a real Bolt App in Socket Mode', () => {
    let app: App;
    const events: string[] = [];

    beforeAll(async () => {
      app = new App({
        token: slack.botToken,
        appToken: sm.appToken,
        socketMode: true,
        logger: silent,
        clientOptions: { slackApiUrl: slack.url, retryConfig: { retries: 0 } },
      });
      app.command('/db-access', async ({ ack }) => {
        await ack('got it');
      });
      app.view('cb', async ({ ack }) => {
        await ack({ response_action: 'errors', errors: { level: 'nope' } });
      });
      app.event('app_home_opened', async ({ event }) => {
        events.push(event.user);
      });
    });

    afterAll(async () => {
      await app?.stop();
    });

    it('connects, is acked over the socket, keeps the heartbeat, reconnects on disconnect and closes cleanly', async () => {
      const before = sm.connections.length;
      const opens = slack.callsTo(APPS_CONNECTIONS_OPEN).length;
      await app.start();
      const conn = await sm.waitForConnection({ count: before + 1 });
      expect(slack.callsTo(APPS_CONNECTIONS_OPEN).length).toBe(opens + 1);

      const cmd = await sm.sendSlashCommand(slashCommand({ userId: 'U0ALICE', text: 'hello' }));
      expect(cmd.payload).toEqual({ text: 'got it' });
      expect(cmd.elapsedMs).toBeLessThan(3000);
      const view = await sm.sendInteraction(viewSubmissionPayload({ userId: 'U0ALICE', callbackId: 'cb', values: {} }));
      expect(view.payload).toEqual({ response_action: 'errors', errors: { level: 'nope' } });
      const ev = await sm.sendEvent(appHomeOpenedEvent('U0BOB'));
      expect(ev.payload).toEqual({});
      await sm.waitUntil(() => events.includes('U0BOB'));

      // @slack/socket-mode pings every ~1.7 s and expects pongs; it answers ours.
      await sm.waitUntil(() => sm.connections.find((x) => x.id === conn.id)!.pingsFromClient >= 1, { timeoutMs: 5000 });
      await sm.waitUntil(() => sm.connections.find((x) => x.id === conn.id)!.pongsFromClient >= 1, { timeoutMs: 5000 });

      // Slack asks for a refresh: the client closes and comes back with a fresh URL.
      sm.disconnect('refresh_requested');
      await sm.waitForClose({ connectionId: conn.id });
      const again = await sm.waitForConnection({ count: before + 2, timeoutMs: 15_000 });
      expect(slack.callsTo(APPS_CONNECTIONS_OPEN).length).toBe(opens + 2);
      expect(
        (await sm.sendSlashCommand(slashCommand({ userId: 'U0ALICE', text: 'again' }), { connectionId: again.id }))
          .payload,
      ).toEqual({ text: 'got it' });

      await app.stop();
      const [closed] = (await sm.waitForClose()).filter((x) => x.id === again.id);
      expect(closed).toMatchObject({ closeCode: 1000, closedBy: 'client' });
    }, 30_000);
  });
});
