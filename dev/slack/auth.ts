/** `api.test` and `auth.test`: who the token is (team, bot, app; Enterprise Grid ids when configured). */
import { SLACK_DOUBLE_DEFAULTS } from './constants.js';
import type { SlackMethods, SlackState } from './state.js';

export function authMethods(s: SlackState): SlackMethods {
  return {
    'api.test': (args) => ({ args }),

    'auth.test': () => ({
      url: `https://${s.teamDomain}.slack.com/`,
      team: SLACK_DOUBLE_DEFAULTS.teamName,
      user: s.botName,
      team_id: s.teamId,
      user_id: s.botUserId,
      bot_id: s.botId,
      app_id: s.appId,
      ...(s.enterpriseId !== undefined && { enterprise_id: s.enterpriseId }),
      is_enterprise_install: s.enterpriseInstall,
    }),
  };
}
