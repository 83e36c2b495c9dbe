// A backend in the bridge's own process (`homecoder serve`): the completion service on a
// GPU reached through Dawn, no browser involved.
import type { Backend } from './relay.ts';
import type { CompletionService } from '../serve/completion-service.ts';
import type { CompletionRequest, CompletionResult, ServingInfo } from '../serve/types.ts';

export class LocalBackend implements Backend {
  readonly kind = 'headless' as const;
  constructor(
    private service: CompletionService,
    private serving: ServingInfo,
  ) {}

  info(): ServingInfo {
    return this.serving;
  }

  /** Generations running or waiting inside the service (0 when idle). */
  active(): number {
    return this.service.active;
  }

  complete(req: CompletionRequest, opts: { signal: AbortSignal; onText: (delta: string) => void }): Promise<CompletionResult> {
    return this.service.complete(req, opts);
  }
}
