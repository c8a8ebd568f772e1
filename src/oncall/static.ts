/** Approver sources that need no lookup: explicit emails and Slack user ids from the catalog. */
import type { ApproverSource } from '../core/catalog.js';
import type { ApproverRef } from '../core/model.js';

export function staticApprovers(sources: readonly ApproverSource[]): ApproverRef[] {
  const out: ApproverRef[] = [];
  for (const s of sources) {
    if ('email' in s)
      out.push({ platform: 'email', id: s.email.toLowerCase(), email: s.email.toLowerCase(), via: 'email' });
    if ('slackUser' in s) out.push({ platform: 'slack', id: s.slackUser, via: 'slack user' });
  }
  return out;
}

export { dedupeRefs as dedupeApprovers } from '../core/approvers.js';
