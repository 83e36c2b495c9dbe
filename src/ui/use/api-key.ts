// The bridge's API key, when it was started with one: kept in this browser only, sent by
// the Playground and shown in the copy-paste settings.
export const API_KEY_STORAGE = 'homecoder.apiKey';
