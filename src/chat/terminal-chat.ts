/** Terminal sign-in across the chat platforms configured: a name goes to the platform it belongs to. */
import type { Actor } from '../core/model.js';
import type { LoginCodeMessage, TerminalChat } from '../core/terminal-login.js';

export class AnyTerminalChat implements TerminalChat {
  constructor(private readonly platforms: ReadonlyArray<{ platform: Actor['platform']; chat: TerminalChat }>) {}

  async resolve(as: string): Promise<Actor | undefined> {
    for (const p of this.platforms) {
      const found = await p.chat.resolve(as);
      if (found) return found;
    }
    return undefined;
  }

  async sendCode(person: Actor, message: LoginCodeMessage): Promise<boolean> {
    const p = this.platforms.find((x) => x.platform === person.platform);
    return p ? p.chat.sendCode(person, message) : false;
  }
}
