// GET /bridge/status: what the app's connection panel shows (backend, queue, editors seen,
// request log). Only for the app: it needs the tab's cookie (or the API key), since the log
// names every local client.
import { sendJson, type Route } from './http.ts';

export const statusRoutes: Route[] = [
  {
    method: 'GET',
    path: '/bridge/status',
    errors: 'string',
    tab: true,
    handle: async (ctx) => sendJson(ctx.res, 200, ctx.relay.stats(), { 'cache-control': 'no-store' }),
  },
];
