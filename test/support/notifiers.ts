/** Notifier doubles for core-level tests (our own port: recording calls, no chat platform behind it). */
import type { Notifier } from '../../src/core/ports.js';
import type { RequestView } from '../../src/core/view.js';

export type NotifierEvent = { event: keyof Notifier; view: RequestView; extra?: unknown };

export function recordingNotifier(): Notifier & { events: NotifierEvent[] } {
  const events: NotifierEvent[] = [];
  const rec =
    (event: keyof Notifier) =>
    async (view: RequestView, ...extra: unknown[]) =>
      void events.push({ event, view, extra });
  return {
    events,
    requestOpened: rec('requestOpened'),
    requestChanged: rec('requestChanged'),
    grantActivated: rec('grantActivated'),
    grantEnded: rec('grantEnded'),
    provisionFailed: rec('provisionFailed'),
    revocationStuck: rec('revocationStuck'),
    expiresSoon: rec('expiresSoon'),
    grantSelfExtended: rec('grantSelfExtended'),
    requestEscalated: rec('requestEscalated'),
    breakGlassUsed: rec('breakGlassUsed'),
    reviewOverdue: rec('reviewOverdue'),
    incidentAccessGranted: rec('incidentAccessGranted'),
  };
}
