/**
 * The directory: `users.info`, `users.lookupByEmail`, `usergroups.users.list`, and `conversations.open` (one user → a
 * stable `D…` id, see {@link dmChannelIdFor}; several → an mpim).
 */
import type { SlackMethods, SlackState } from './state.js';
import { dmChannelIdFor } from './types.js';
import { ApiError, clone, str } from './validate.js';

export function directoryMethods(s: SlackState): SlackMethods {
  return {
    'conversations.open': (args) => {
      const users = (str(args.users) ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== '');
      const channel = str(args.channel);
      if (users.length === 0) {
        if (channel === undefined) throw new ApiError('users_list_not_supplied');
        const ch = s.resolveChannel(channel);
        return { channel: { id: ch.id } };
      }
      for (const u of users) if (!s.users.has(u)) throw new ApiError('user_not_found');
      if (users.length === 1) {
        const id = dmChannelIdFor(users[0]!);
        return { channel: { id, is_im: true, user: users[0] }, no_op: true, already_open: true };
      }
      const id = `G${[...users]
        .sort()
        .join('')
        .replace(/[^A-Z0-9]/g, '')
        .slice(0, 16)}`;
      if (!s.channels.has(id)) {
        s.channels.set(id, { id, kind: 'mpim', members: new Set(users), botIsMember: true, archived: false });
      }
      return { channel: { id, is_mpim: true } };
    },

    'users.info': (args) => {
      const id = str(args.user);
      if (!id) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: user']);
      const user = s.users.get(id);
      if (!user) throw new ApiError('user_not_found');
      return { user: clone(user) };
    },

    'users.lookupByEmail': (args) => {
      const email = str(args.email)?.toLowerCase();
      if (!email) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: email']);
      const user = [...s.users.values()].find((u) => u.profile.email?.toLowerCase() === email && !u.deleted);
      if (!user) throw new ApiError('users_not_found');
      return { user: clone(user) };
    },

    'usergroups.users.list': (args) => {
      const id = str(args.usergroup);
      if (!id) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: usergroup']);
      const group = s.usergroups.get(id);
      if (!group) throw new ApiError('no_such_subteam');
      return { users: [...group.users] };
    },
  };
}
