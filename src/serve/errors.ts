// Typed errors of serving, in a module of their own so the page can rebuild them
// (src/workers/error-transfer.ts) without loading the serving code.
import { HomecoderError, registerError } from '../errors.ts';

export type CompletionErrorCode = 'BAD_REQUEST' | 'NO_MODEL' | 'ENGINE';

export class CompletionError extends HomecoderError<CompletionErrorCode> {
  constructor(code: CompletionErrorCode, message: string) {
    super(code, message);
    this.name = 'CompletionError';
  }
}
registerError('CompletionError', CompletionError);
