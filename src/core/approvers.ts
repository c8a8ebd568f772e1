/** Approver lists (pure). */
import type { ApproverRef } from './model.js';

/** One entry per person: the same email or platform id keeps the first, noting every source it came from. */
export function dedupeRefs(list: readonly ApproverRef[]): ApproverRef[] {
  const out: ApproverRef[] = [];
  for (const a of list) {
    const same = out.find(
      (b) =>
        (b.platform === a.platform && b.id === a.id) ||
        (a.email !== undefined && b.email?.toLowerCase() === a.email.toLowerCase()),
    );
    if (!same) {
      out.push({ ...a });
      continue;
    }
    // Prefer the entry that names a chat user (it can be mentioned); keep both sources.
    if (same.platform === 'email' && a.platform !== 'email')
      Object.assign(same, { ...a, email: a.email ?? same.email, via: same.via });
    if (!same.via.split(', ').includes(a.via)) same.via = `${same.via}, ${a.via}`;
  }
  return out;
}
