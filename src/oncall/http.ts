/**
 * The on-call clients' one HTTP call: GET JSON with a timeout, waiting out 429 Retry-After (up to maxWaitMs),
 * retrying 5xx, timeouts and network errors with capped exponential backoff, and failing with a message that
 * names what failed and never carries the credential (it is only ever in a header).
 */

/** A failed request, described without a source; the clients wrap it in an OnCallError. */
export class RequestFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface GetJsonOptions {
  fetchImpl: typeof fetch;
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
  maxWaitMs: number;
  backoffMs: number;
  /** Headers that say how long to wait after a 429, in order of preference. */
  retryAfterHeaders: readonly string[];
  /** "PagerDuty", "Opsgenie": named when the wait asked for is too long. */
  vendor: string;
  /** Extra words per status, e.g. which setting holds the rejected key. */
  hints: Readonly<Record<number, string>>;
  /** The vendor's error body → " — message". */
  errorDetail: (body: string) => string;
}

export async function getJson<T>(url: string, what: string, o: GetJsonOptions): Promise<T> {
  const backoff = (attempt: number) => Math.min(o.backoffMs * 2 ** attempt, o.maxWaitMs);
  for (let attempt = 0; ; attempt++) {
    const attempts = `${attempt + 1} attempt${attempt === 0 ? '' : 's'}`;
    let res: Response;
    try {
      res = await o.fetchImpl(url, { headers: o.headers, signal: AbortSignal.timeout(o.timeoutMs) });
    } catch (err) {
      const why = describeFetchError(err, o.timeoutMs);
      if (attempt >= o.maxRetries) throw new RequestFailure(`${what}: ${why} (gave up after ${attempts})`);
      await sleep(backoff(attempt));
      continue;
    }
    if (res.ok) {
      const text = await res.text();
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new RequestFailure(`${what}: HTTP ${res.status} with a body that is not JSON`);
      }
    }
    const detail = o.errorDetail(await res.text().catch(() => ''));
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    if (res.status === 429) {
      const waitMs = retryAfterMs(res.headers, o.retryAfterHeaders);
      if (waitMs !== undefined && waitMs > o.maxWaitMs) {
        throw new RequestFailure(
          `${what}: rate limited (${status}); ${o.vendor} asks to wait ${Math.ceil(waitMs / 1000)} s, longer than the ${Math.round(o.maxWaitMs / 1000)} s this client waits`,
          429,
        );
      }
      if (attempt >= o.maxRetries)
        throw new RequestFailure(`${what}: rate limited (${status})${detail} (gave up after ${attempts})`, 429);
      await sleep(waitMs ?? backoff(attempt));
      continue;
    }
    if (res.status >= 500) {
      if (attempt >= o.maxRetries)
        throw new RequestFailure(`${what}: ${status}${detail} (gave up after ${attempts})`, res.status);
      await sleep(backoff(attempt));
      continue;
    }
    throw new RequestFailure(`${what}: ${status}${o.hints[res.status] ?? ''}${detail}`, res.status);
  }
}

/** Seconds (or an HTTP date) from the first header present, in ms. */
export function retryAfterMs(headers: Headers, names: readonly string[], now = Date.now()): number | undefined {
  for (const name of names) {
    const raw = headers.get(name)?.trim();
    if (!raw) continue;
    if (/^\d+(\.\d+)?$/.test(raw)) return Math.ceil(Number(raw) * 1000);
    const date = Date.parse(raw);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return undefined;
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  return `request failed (${cause ?? (err instanceof Error ? err.message : String(err))})`;
}

/** Waits at least `ms` of wall-clock time (timers may fire a little early; the loop makes up the difference). */
async function sleep(ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (let left = ms; left > 0; left = until - Date.now())
    await new Promise<void>((resolve) => setTimeout(resolve, left));
}
