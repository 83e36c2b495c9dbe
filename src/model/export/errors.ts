// Typed errors of exporting a model (GGUF, merged weights, Ollama): each says what to do.
import { HomecoderError, registerError } from '../../errors.ts';

export type ExportErrorCode =
  | 'EXPORT_UNSUPPORTED_ARCHITECTURE'
  | 'EXPORT_UNSUPPORTED_TOKENIZER'
  | 'EXPORT_ADAPTER_MISMATCH'
  | 'EXPORT_NEEDS_ADAPTER'
  | 'EXPORT_BAD_FORMAT';

export class ExportError extends HomecoderError<ExportErrorCode, { format?: string; file?: string }> {
  constructor(code: ExportErrorCode, message: string, data: { format?: string; file?: string } = {}, hint = '') {
    super(code, message, { data, hint });
    this.name = 'ExportError';
  }
}
registerError('ExportError', ExportError);
