/**
 * The Teams bot: typed commands (personal chat or @mention in a channel), Universal Actions from its cards, and
 * the credentials dialog. Every handler re-checks who acts against the state DB and the approver sources (card
 * data is only ids, never trusted: read with core/ids.ts, decimal only, so "0x2" is refused by name and never acts
 * on request 2); a refusal goes to the clicker alone and changes nothing. Typed text and card inputs are cleaned
 * (core/text.ts) before anything reads them.
 *
 * Nothing here is acknowledged before it is done: botbuilder answers the HTTP request of every activity (typed
 * commands and invokes alike: adaptiveCard/action, task/fetch, task/submit) only once its handler has finished, with
 * the result. So Teams actions need no inbox (core/inbox.ts): a crash before the answer is a click or message that failed in
 * Teams, and the person repeats it (test/e2e/teams-crash.test.ts).
 */
import {
  TeamsActivityHandler,
  TurnContext,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
  type TaskModuleRequest,
  type TaskModuleResponse,
} from 'botbuilder';
import type { CoreDeps } from '../../core/deps.js';
import type { RequestId } from '../../core/model.js';
import { BrokerError } from '../../core/errors.js';
import { requireGrantId, requireRequestId } from '../../core/ids.js';
import { revealCredentials, revokeAsUser } from '../../core/lifecycle.js';
import { viewsOf } from '../../core/listing.js';
import { requestAccess, requestExtension } from '../../core/asking.js';
import { notesOfReturned } from '../../core/auto-approve.js';
import { approve, deny, reviewBreakGlass } from '../../core/deciding.js';
import { cleanText } from '../../core/text.js';
import { loadRequestView, viewOfReturned } from '../../core/view.js';
import { errorSentences } from '../error-text.js';
import { parseCommand } from '../grammar.js';
import { approvalCard } from './cards/approval.js';
import { accessEndedMessage, credentialsDialog } from './cards/dm.js';
import { attachment, ADAPTIVE_CARD, type AdaptiveCard } from './cards/kit.js';
import {
  breakGlassMessage,
  helpMessage,
  listMessage,
  requestFormMessage,
  requestSentMessage,
  textMessage,
} from './cards/replies.js';
import type { TeamsConversations } from './conversations.js';
import { plainMarkup, TeamsText } from './markup.js';
import type { TeamsNotifier } from './notifier.js';
import type { TeamsPeople } from './people.js';
import { readableMentions, typedText } from './typed-text.js';
import { REVEAL_DIALOG, VERBS } from './verbs.js';

const COMMAND = 'db-access';
const toast = errorSentences(plainMarkup, COMMAND);
const inCard = errorSentences(new TeamsText(), COMMAND);
const OOPS = 'Something went wrong on our side; nothing was changed.';

type Data = Record<string, unknown>;

/** A card input as text, cleaned; '' when the input is absent or not text. */
const str = (v: unknown): string => (typeof v === 'string' ? cleanText(v) : '');

function cardResponse(value: AdaptiveCard): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: ADAPTIVE_CARD, value: value as unknown as Record<string, unknown> };
}

/** A sentence only the clicker sees; the card stays as it was. */
function messageResponse(text: string): AdaptiveCardInvokeResponse {
  return {
    statusCode: 200,
    type: 'application/vnd.microsoft.activity.message',
    value: text as unknown as Record<string, unknown>,
  };
}

/** The data of an Action.Submit click (a message whose `value` names one of our verbs), if this is one. */
function submittedAction(value: unknown): { verb: string; data: Data } | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const data = value as Data;
  return typeof data.verb === 'string' && data.verb !== '' ? { verb: data.verb, data } : undefined;
}

const cardOf = (msg: { attachments: Array<{ content: AdaptiveCard }> }): AdaptiveCard => msg.attachments[0]!.content;

export interface TeamsBotDeps {
  core: CoreDeps;
  people: TeamsPeople;
  conversations: TeamsConversations;
  notifier?: TeamsNotifier;
}

export class DbAccessTeamsBot extends TeamsActivityHandler {
  constructor(private readonly deps: TeamsBotDeps) {
    super();
    const { core } = deps;
    this.onMessage(async (ctx, next) => {
      await deps.conversations.remember(ctx.activity);
      await core.hold?.('teams.before-process');
      const submitted = submittedAction(ctx.activity.value);
      if (submitted) await this.submitted(ctx, submitted.verb, submitted.data);
      else {
        await this.command(ctx).catch(async (err: unknown) => {
          await ctx.sendActivity(textMessage([this.sentence(err, inCard)], 'db-access could not do that'));
        });
      }
      await next();
    });
    this.onInstallationUpdateAdd(async (ctx, next) => {
      await deps.conversations.remember(ctx.activity);
      if (ctx.activity.conversation.conversationType === 'personal') await ctx.sendActivity(helpMessage(core.catalog));
      await next();
    });
    this.onConversationUpdate(async (ctx, next) => {
      await deps.conversations.remember(ctx.activity);
      await next();
    });
  }

  private sentence(err: unknown, sentences: typeof toast): string {
    if (err instanceof BrokerError) return sentences(err);
    this.deps.core.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'teams handler failed');
    return OOPS;
  }

  /** Text after the bot's mention and an optional leading "db-access". */
  private async command(ctx: TurnContext): Promise<void> {
    const { core, people } = this.deps;
    const { text: raw, mentioned } = typedText(ctx.activity);
    const text = raw.trim().replace(/^\/?db-access\b/i, '');
    const parsed = parseCommand(text, COMMAND);
    switch (parsed.kind) {
      case 'modal':
        await ctx.sendActivity(requestFormMessage(core.catalog));
        return;
      case 'help':
        await ctx.sendActivity(helpMessage(core.catalog));
        return;
      case 'invalid':
        // The grammar marks commands up as Slack code spans; a card shows them as plain text.
        await ctx.sendActivity(
          textMessage(
            [new TeamsText().escape(parsed.problem.replace(/`/g, '')), 'Say **help** for the databases and levels.'],
            'db-access: usage',
          ),
        );
        return;
    }
    const actor = await people.actor(ctx);
    switch (parsed.kind) {
      case 'list':
        await ctx.sendActivity(listMessage(await viewsOf(core, actor)));
        return;
      case 'revoke': {
        const res = await revokeAsUser(core, parsed.grantId, actor);
        await ctx.sendActivity(
          textMessage(
            [
              res.receipt
                ? `Grant #${parsed.grantId} revoked: ${res.receipt.sessionsTerminated} session(s) terminated, user ${res.receipt.userOutcome === 'dropped' ? 'dropped' : 'was already absent'}.`
                : `Grant #${parsed.grantId} had already ended.`,
            ],
            `Grant #${parsed.grantId} revoked`,
          ),
        );
        return;
      }
      case 'extend': {
        const req = await requestExtension(
          core,
          actor,
          parsed.grantId,
          parsed.duration,
          parsed.reason ?? 'extension requested',
        );
        await ctx.sendActivity(requestSentMessage(await viewOfReturned(core, req)));
        return;
      }
      case 'request': {
        const forWhom = parsed.forWhom;
        // Only a mention Teams tagged names a person; `<@…>` typed as text has no entity behind it.
        if (forWhom !== undefined && !mentioned.has(forWhom))
          throw new BrokerError(
            'INVALID_INPUT',
            'name the person with an @mention picked from the list as you type, so Teams says who they are',
          );
        const input = { ...parsed.input, reason: readableMentions(parsed.input.reason, mentioned) };
        const req = await requestAccess(core, actor, input, {
          breakGlass: parsed.breakGlass ?? false,
          ...(forWhom !== undefined && { beneficiary: () => people.person(ctx, forWhom) }),
        });
        await ctx.sendActivity(requestSentMessage(await viewOfReturned(core, req), notesOfReturned(req)));
        return;
      }
    }
  }

  /**
   * A click on an Action.Execute's fallback (an Action.Submit, on clients without Universal Actions): the same verb
   * with the same checks. The card it was on is replaced by the answer card; a refusal is said in the conversation,
   * as that client has no private toast to show it in.
   */
  private async submitted(ctx: TurnContext, verb: string, data: Data): Promise<void> {
    let answer: AdaptiveCardInvokeResponse;
    try {
      answer = await this.execute(ctx, verb, data);
    } catch (err) {
      answer = messageResponse(this.sentence(err, toast));
    }
    const replyTo = ctx.activity.replyToId;
    if (answer.type === ADAPTIVE_CARD && replyTo) {
      await ctx.updateActivity({
        type: 'message',
        id: replyTo,
        attachments: [attachment(answer.value as unknown as AdaptiveCard)],
      });
      return;
    }
    if (answer.type === ADAPTIVE_CARD)
      await ctx.sendActivity({ type: 'message', attachments: [attachment(answer.value as unknown as AdaptiveCard)] });
    else await ctx.sendActivity(textMessage([new TeamsText().escape(String(answer.value))], 'db-access'));
  }

  protected override async onAdaptiveCardInvoke(
    ctx: TurnContext,
    invoke: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    await this.deps.conversations.remember(ctx.activity);
    await this.deps.core.hold?.('teams.before-process');
    try {
      return await this.execute(ctx, invoke.action.verb, (invoke.action.data ?? {}) as Data);
    } catch (err) {
      return messageResponse(this.sentence(err, toast));
    }
  }

  private async execute(ctx: TurnContext, verb: string, data: Data): Promise<AdaptiveCardInvokeResponse> {
    const { core, people } = this.deps;
    const actor = await people.actor(ctx);
    const requestCard = async (requestId: RequestId) =>
      cardResponse(approvalCard(await loadRequestView(core, requestId)));
    switch (verb) {
      case VERBS.approve: {
        const id = requireRequestId(data.requestId);
        const { view } = await approve(core, id, actor);
        return view ? cardResponse(approvalCard(view)) : requestCard(id);
      }
      case VERBS.deny: {
        const id = requireRequestId(data.requestId);
        const { view } = await deny(core, id, actor, str(data.note));
        return view ? cardResponse(approvalCard(view)) : requestCard(id);
      }
      case VERBS.refresh:
        return requestCard(requireRequestId(data.requestId));
      case VERBS.revoke:
      case VERBS.done: {
        const grantId = requireGrantId(data.grantId);
        const { grant } = await revokeAsUser(core, grantId, actor);
        const view = await loadRequestView(core, grant.requestId);
        return verb === VERBS.revoke
          ? cardResponse(approvalCard(view))
          : cardResponse(cardOf(accessEndedMessage(view)));
      }
      case VERBS.extend: {
        const req = await requestExtension(
          core,
          actor,
          requireGrantId(data.grantId),
          str(data.duration) || '1h',
          'extension requested',
        );
        return cardResponse(cardOf(requestSentMessage(await viewOfReturned(core, req))));
      }
      case VERBS.request: {
        const ticket = str(data.ticket).trim();
        const req = await requestAccess(core, actor, {
          database: str(data.database),
          level: str(data.level),
          duration: str(data.duration).trim(),
          reason: str(data.reason),
          ...(ticket && { ticket }),
        });
        return cardResponse(cardOf(requestSentMessage(await viewOfReturned(core, req), notesOfReturned(req))));
      }
      case VERBS.reviewed: {
        const view = await reviewBreakGlass(core, requireRequestId(data.requestId), actor);
        await this.deps.notifier?.breakGlassReviewed(view);
        return cardResponse(cardOf(breakGlassMessage(view)));
      }
      default:
        return messageResponse('This button is from an older version of db-access; say "list" for current buttons.');
    }
  }

  /**
   * A dialog submitted. db-access's only dialog shows credentials and has no submit button, so nothing is done; the
   * answer says so. Unanswered, botbuilder would reply 501, which Teams shows as an app that cannot be reached.
   */
  protected override async handleTeamsTaskModuleSubmit(ctx: TurnContext): Promise<TaskModuleResponse> {
    await this.deps.conversations.remember(ctx.activity);
    return { task: { type: 'message', value: 'db-access dialogs have nothing to submit, so nothing was done.' } };
  }

  /** Show credentials: rotates the password and shows it in a dialog, which leaves nothing in the chat history. */
  protected override async handleTeamsTaskModuleFetch(
    ctx: TurnContext,
    request: TaskModuleRequest,
  ): Promise<TaskModuleResponse> {
    await this.deps.conversations.remember(ctx.activity);
    const data = (request.data ?? {}) as Data;
    try {
      if (data.kind !== REVEAL_DIALOG) throw new BrokerError('INVALID_INPUT', 'unknown dialog');
      const { core, people } = this.deps;
      const grantId = requireGrantId(data.grantId);
      const { credentials, grant } = await revealCredentials(core, grantId, await people.actor(ctx));
      const view = await loadRequestView(core, grant.requestId);
      return {
        task: {
          type: 'continue',
          value: {
            title: 'Your credentials',
            width: 'medium',
            height: 'medium',
            card: attachment(credentialsDialog(view, credentials)),
          },
        },
      };
    } catch (err) {
      return { task: { type: 'message', value: this.sentence(err, toast) } };
    }
  }
}

/** Why a request just opened for people was not auto-approved (nothing for one decided at once). */
