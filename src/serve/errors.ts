// Typed errors of serving, in a module of their own so the page can rebuild them
// (src/workers/error-transfer.ts) without loading the serving code.
import { HomecoderError, registerError } from '../errors.ts';

export type CompletionErrorCode = 'BAD_REQUEST' | 'NO_MODEL' | 'ENGINE' | 'NO_CHAT_TEMPLATE' | 'PROMPT_TOO_LONG' | 'UNKNOWN_MODEL';

export class CompletionError extends HomecoderError<CompletionErrorCode> {
  constructor(code: CompletionErrorCode, message: string) {
    super(code, message);
    this.name = 'CompletionError';
  }
}
registerError('CompletionError', CompletionError);

/** The HTTP status an editor gets for a serving error (what the bridge answers). */
export function completionErrorStatus(code: string): number | undefined {
  const status: Record<string, number> = {
    BAD_REQUEST: 400,
    NO_CHAT_TEMPLATE: 400,
    PROMPT_TOO_LONG: 400,
    UNKNOWN_MODEL: 404,
    NO_MODEL: 503,
  };
  return status[code];
}
