// One engine worker per tab, shared by every page.
import { createEngineClient, type EngineClient } from '../../workers/engine-client.ts';

let client: EngineClient | undefined;
export function engine(): EngineClient {
  client ??= createEngineClient();
  return client;
}
