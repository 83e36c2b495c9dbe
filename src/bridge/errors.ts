// Typed errors of the bridge's own setup (listening, options, the runtime file): a stable code
// and a message that says what to do.
import { HomecoderError, registerError } from '../errors.ts';

export type BridgeErrorCode = 'BRIDGE_NEEDS_API_KEY' | 'BRIDGE_NO_RUNTIME_FILE' | 'BRIDGE_BAD_OPTION' | 'BRIDGE_NEEDS_APP_URL';

export class BridgeError extends HomecoderError<BridgeErrorCode> {
  constructor(code: BridgeErrorCode, message: string) {
    super(code, message);
    this.name = 'BridgeError';
  }
}
registerError('BridgeError', BridgeError);
