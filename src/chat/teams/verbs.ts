/** The `verb` of each Universal Action (Action.Execute) the bot's cards carry. Card data only ever holds ids. */
export const VERBS = {
  approve: 'approve',
  deny: 'deny',
  revoke: 'revoke',
  done: 'done',
  extend: 'extend',
  request: 'request',
  reviewed: 'reviewed',
  refresh: 'refresh',
} as const;

export type Verb = (typeof VERBS)[keyof typeof VERBS];

/** `data.kind` of the dialog (task/fetch) button that rotates and shows credentials. */
export const REVEAL_DIALOG = 'reveal';
