/** Approver sources that need no lookup: explicit emails and Slack user ids from the catalog. */
import type { ApproverSource } from '../core/catalog.js';
import type { ApproverRef } from '../core/model.js';

export function staticApprovers(sources: readonly ApproverSource[]): ApproverRef[] {
  const out: ApproverRef[] = [];
  for (const s of sources) {
    if ('email' in s) out.push({ platform: 'email', id: s.email.toLowerCase(), email: s.email.toLowerCase(), via: 'email' });
    if ('slackUser' in s) out.push({ platform: 'slack', id: s.slackUser, via: 'slack user' });
  }
  return out;
}

/** One entry per person: the same email or platform id from several sources keeps the first, noting every source. */
export function dedupeApprovers(list: readonly ApproverRef[]): ApproverRef[] {
  const out: ApproverRef[] = [];
  for (const a of list) {
    const same = out.find(
      (b) => (b.platform === a.platform && b.id === a.id) || (a.email !== undefined && b.email?.toLowerCase() === a.email.toLowerCase()),
    );
    if (!same) {
      out.push({ ...a });
      continue;
    }
    // Prefer the entry that names a chat user (it can be mentioned); keep both sources.
    if (same.platform === 'email' && a.platform !== 'email') Object.assign(same, { ...a, email: a.email ?? same.email });
    if (!same.via.split(', ').includes(a.via)) same.via = `${same.via}, ${a.via}`;
  }
  return out;
}
