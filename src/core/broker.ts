/**
 * The broker's in-process state, one per application (built by the composition root and closed with it): the
 * provisioning and revocation batchers, and the grants a lifecycle step is running for in this process. The use
 * cases reach it through CoreDeps.broker; the core keeps no state of its own at module level, so two brokers in one
 * process (tests, tools) share nothing.
 */
import type { CoreDeps } from './deps.js';
import { ProvisionBatcher } from './provision.js';
import { RevocationBatcher } from './revocation.js';

/** Everything the core needs from outside; the Broker adds itself to make the CoreDeps. */
export type CorePorts = Omit<CoreDeps, 'broker'>;

export class Broker {
  /** The dependencies every use case of this broker runs with (the batchers work with these). */
  readonly deps: CoreDeps;
  readonly provisioning: ProvisionBatcher;
  readonly revocation: RevocationBatcher;
  /** Grant id → the lifecycle step running for it in this process. */
  private readonly inFlight = new Map<number, Promise<unknown>>();

  constructor(ports: CorePorts) {
    this.deps = { ...ports, broker: this };
    this.provisioning = new ProvisionBatcher(this.deps);
    this.revocation = new RevocationBatcher(this.deps);
  }

  /** One revocation or provisioning of a grant at a time in this process (the sweeper and a job may race). */
  async exclusive<T>(grantId: number, fn: () => Promise<T>): Promise<T> {
    while (this.inFlight.has(grantId)) await this.inFlight.get(grantId)!.catch(() => undefined);
    const p = fn();
    this.inFlight.set(grantId, p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(grantId);
    }
  }

  /** Resolves when no lifecycle step runs, no provisioning or revocation batch runs and every revocation
   *  notification is out. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
    // Provisioning first: a failed one hands its cleanup to the revocation batcher.
    await this.provisioning.idle();
    await this.revocation.idle();
  }

  /** Shutdown: waits for the work already handed over (idle); the caller then closes the adapters under it. */
  close(): Promise<void> {
    return this.idle();
  }
}
