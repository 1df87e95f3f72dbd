/**
 * The recorder's prompts to the officers (state the reason aloud after a resume, it was heard, a statement is needed,
 * show your credentials), kept for the session page: the page is read by polling, the prompts come as events. Only
 * the latest is kept, with when it came, in memory.
 */
import type { Prompt, SessionRecorder } from './deps.js';

export interface SeenPrompt extends Prompt {
  /** When the console heard it (ms). */
  at: number;
}

export class PromptBoard {
  private last: SeenPrompt | undefined;

  constructor(
    private readonly recorder: SessionRecorder | undefined,
    private readonly now: () => number,
  ) {}

  start(): void {
    this.recorder?.on('prompt', this.onPrompt);
  }

  stop(): void {
    this.recorder?.off('prompt', this.onPrompt);
  }

  latest(): SeenPrompt | undefined {
    return this.last;
  }

  private readonly onPrompt = (p: Prompt): void => {
    this.last = { code: p.code, zh: p.zh, en: p.en, at: this.now() };
  };
}
