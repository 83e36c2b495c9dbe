// Where the demo model lives: a repo id and the hub-shaped path the bridge serves it under.
// (Kept apart from demo.ts so the bridge and the UI don't pull in the fixture generator.)
export const DEMO_REPO = 'homecoder/demo-coder-random';
/** The hub endpoint path on the bridge's own origin. */
export const DEMO_ENDPOINT_PATH = '/hub';
