// Typed errors for model files: each names the file (and tensor) and says what to do.
import { HomecoderError, registerError } from '../errors.ts';
export type ModelErrorCode =
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'BAD_CONFIG'
  | 'MISSING_FILE'
  | 'BAD_HEADER'
  | 'TRUNCATED_FILE'
  | 'UNKNOWN_DTYPE'
  | 'MISSING_TENSOR'
  | 'BAD_SHAPE'
  | 'BAD_ADAPTER'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INCOMPLETE'
  | 'NO_MODEL_LOADED'
  | 'TEXT_TOO_SHORT'
  | 'UNSAFE_PATH'
  | 'BAD_WEIGHTS'
  | 'TOKENIZER_MISMATCH'
  | 'CONTEXT_TOO_LONG';

export class ModelError extends HomecoderError<ModelErrorCode, { file?: string; tensor?: string }> {
  constructor(code: ModelErrorCode, message: string, where: { file?: string; tensor?: string } = {}) {
    super(code, message, { data: { ...where } });
    this.name = 'ModelError';
  }
  get file(): string | undefined {
    return this.data.file;
  }
  get tensor(): string | undefined {
    return this.data.tensor;
  }
}
registerError('ModelError', ModelError);
