// GET /bridge/status: what the app's connection panel shows (backend, queue, editors seen,
// request log). Same-origin only in practice: no CORS header lets another site read it.
import { sendJson, type Route } from './http.ts';

export const statusRoutes: Route[] = [
  {
    method: 'GET',
    path: '/bridge/status',
    errors: 'string',
    open: true,
    handle: async (ctx) => sendJson(ctx.res, 200, ctx.relay.stats(), { 'cache-control': 'no-store' }),
  },
];
