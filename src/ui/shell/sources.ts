// One sources worker per tab, shared by the Sources and Filter pages.
import { createSourcesClient, type SourcesClient } from '../../workers/sources-client.ts';

let client: SourcesClient | undefined;
export function sources(): SourcesClient {
  client ??= createSourcesClient();
  return client;
}
