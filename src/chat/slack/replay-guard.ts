/**
 * Replays do nothing. Slack signs every HTTP request (`v0` HMAC over the timestamp and the raw body) and Bolt refuses
 * a bad signature or a timestamp older than five minutes — but it accepts the same signed request again, and a
 * timestamp from the future. So, on `POST /slack/events`:
 *
 * - {@link refuseFutureTimestamps} (Express, before Bolt): a timestamp more than five minutes ahead is answered 401.
 *   It reads the header only: refusing needs no verification and records nothing.
 * - {@link verifiedSignatureDigest} (Bolt's `customPropertiesExtractor`): ExpressReceiver calls it from its request
 *   handler, which runs only after its body parser has verified the signature (a forged or stale request got its
 *   401 there). What it passes on is therefore a signature Slack made — a forgery can never occupy the key a genuine
 *   request needs.
 * - {@link replayGuard} (Bolt global middleware): records a digest of that signature in Redis (`SET NX`, shared by
 *   every web replica, under the QUEUE_PREFIX namespace; the signature's SHA-256, never the body) for as long as
 *   Slack's signature could still be accepted, and drops a request seen before: acknowledged with an empty 200 (so
 *   Slack does not retry), logged, nothing else run. Events API retries (`X-Slack-Retry-Num`) are re-signed by
 *   Slack, so events are de-duplicated by `event_id` as well.
 *
 * Socket Mode has no signatures: requests arrive over the app's own authenticated WebSocket and the SDK acknowledges
 * each envelope id once. Only the `event_id` de-duplication applies there.
 *
 * When Redis cannot be reached the request is processed, with an error logged: Redis only schedules, and
 * the core's conditional transitions still make a repeated click decide nothing twice.
 */
import { createHash } from 'node:crypto';
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Request, RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/ports.js';

/** Slack's window: a request timestamp this far from now (either way) is refused. */
export const SLACK_REQUEST_WINDOW_S = 5 * 60;
/**
 * How long a signature is remembered. A request is accepted while `now - 5 min ≤ timestamp ≤ now + 5 min`, so the
 * same bytes stay acceptable until `timestamp + 5 min`, at most ten minutes after they were first seen.
 */
export const SIGNATURE_MEMORY_S = 2 * SLACK_REQUEST_WINDOW_S;
/** How long an Events API event id is remembered: Slack retries a delivery three times, the last about 5 min later. */
export const EVENT_ID_MEMORY_S = 60 * 60;

/** The context key under which {@link verifiedSignatureDigest} passes the digest on. */
const DIGEST = 'slackSignatureDigest';

export function refuseFutureTimestamps(logger: Logger, now: () => number = Date.now): RequestHandler {
  return (req, res, next) => {
    const header = req.headers['x-slack-request-timestamp'];
    const ts = typeof header === 'string' ? Number(header) : Number.NaN;
    if (Number.isFinite(ts) && ts > Math.floor(now() / 1000) + SLACK_REQUEST_WINDOW_S) {
      logger.warn({ timestamp: ts }, 'slack: request refused: its timestamp is more than 5 minutes in the future');
      res.status(401).end();
      return;
    }
    next();
  };
}

export function verifiedSignatureDigest(req: Request): Record<string, string> {
  const signature = req.headers['x-slack-signature'];
  return typeof signature === 'string' ? { [DIGEST]: createHash('sha256').update(signature).digest('hex') } : {};
}

export interface ReplayGuardOptions {
  redis: Redis;
  /** QUEUE_PREFIX: keys are `<prefix>:slack:signature:<digest>` and `<prefix>:slack:event:<event id>`. */
  keyPrefix: string;
  logger: Logger;
}

export function replayGuard(opts: ReplayGuardOptions): Middleware<AnyMiddlewareArgs> {
  const { redis, keyPrefix, logger } = opts;
  /** true when `key` was not set before (now it is), or when Redis cannot tell. */
  const first = async (key: string, ttlS: number): Promise<boolean> => {
    try {
      return (await redis.set(key, '1', 'EX', ttlS, 'NX')) === 'OK';
    } catch (err) {
      logger.error(
        { err: err instanceof Error ? err.message : String(err) },
        'slack: cannot reach Redis to detect replayed requests; processing this one',
      );
      return true;
    }
  };
  return async (args) => {
    const { context, body, next } = args;
    const digest = context[DIGEST] as string | undefined;
    const eventId =
      (body as { type?: unknown; event_id?: unknown }).type === 'event_callback'
        ? (body as { event_id?: unknown }).event_id
        : undefined;
    let repeat: string | undefined;
    if (digest !== undefined && !(await first(`${keyPrefix}:slack:signature:${digest}`, SIGNATURE_MEMORY_S)))
      repeat = 'the same signed request was delivered again';
    else if (typeof eventId === 'string' && !(await first(`${keyPrefix}:slack:event:${eventId}`, EVENT_ID_MEMORY_S)))
      repeat = `event ${eventId} was delivered again`;
    if (repeat === undefined) {
      await next();
      return;
    }
    logger.warn(
      {
        retryNum: context.retryNum,
        retryReason: context.retryReason,
        ...(digest !== undefined && { digest: digest.slice(0, 12) }),
      },
      `slack: replay ignored (${repeat})`,
    );
    // Events were acknowledged by Bolt before any middleware ran; everything else is acknowledged here, empty.
    const ack = (args as { ack?: () => Promise<void> }).ack;
    await ack?.();
  };
}
