// The bridge's listen options as `npm start` and `homecoder serve` both read them: defaults,
// the environment, and a bad value refused the same way by both (a message, exit code 2).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { ListenOptionError, parseListenOptions } from '../../src/bridge/listen-options.ts';
import { runCli } from '../helpers/cli.ts';

describe('listen options', () => {
  it('default to loopback:8008, take the environment, and let the flags win', () => {
    expect(parseListenOptions({}, {})).toMatchObject({
      host: '127.0.0.1',
      port: 8008,
      apiKey: undefined,
      maxBodyBytes: undefined,
      deadlines: { firstTokenMs: 120_000, totalMs: 300_000 },
      hubOrigins: [],
    });
    const env = { HOMECODER_HOST: '::1', HOMECODER_PORT: '9000', HOMECODER_API_KEY: 'k' };
    expect(parseListenOptions({}, env)).toMatchObject({ host: '::1', port: 9000, apiKey: 'k', maxBodyBytes: undefined });
    expect(parseListenOptions({ port: '0', 'max-body': '4096', 'api-key': 'x' }, env)).toMatchObject({
      port: 0,
      maxBodyBytes: 4096,
      apiKey: 'x',
    });
  });
  it('refuse a bad port or body size with a typed error that says what to give', () => {
    for (const port of ['70000', '-1', '80.5', 'http']) {
      expect(() => parseListenOptions({ port }, {})).toThrow(ListenOptionError);
      expect(() => parseListenOptions({ port }, {})).toThrow(/from 0 to 65535/);
    }
    expect(() => parseListenOptions({ 'max-body': '0' }, {})).toThrow(/--max-body must be a positive number of bytes/);
  });
  it('read the deadlines, the git allow-list and the hub origins, refusing bad ones by name', () => {
    const o = parseListenOptions(
      {
        'first-token-timeout': '1.5',
        'request-timeout': '10',
        'git-allow-host': ['127.0.0.1:9418'],
        'hub-origin': ['http://127.0.0.1:5000/some/path'],
      },
      {},
    );
    expect(o.deadlines).toEqual({ firstTokenMs: 1500, totalMs: 10_000 });
    expect(o.gitProxy.allowHosts).toContain('127.0.0.1:9418');
    expect(o.hubOrigins).toEqual(['http://127.0.0.1:5000']); // only the origin goes into the CSP
    expect(() => parseListenOptions({ 'request-timeout': '0' }, {})).toThrow(/--request-timeout must be a positive number of seconds/);
    expect(() => parseListenOptions({ 'hub-origin': ['not a url'] }, {})).toThrow(ListenOptionError);
  });
  it('make npm start and homecoder serve exit with code 2 on a bad port', () => {
    const serve = runCli('serve', '--model', '.', '--port', '70000');
    expect(serve.status).toBe(2);
    expect(serve.stderr).toContain('Invalid port "70000"');
    const start = spawnSync(process.execPath, ['--import', 'tsx', 'src/bridge/main.ts', '--no-build', '--max-body', '0'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(start.status).toBe(2);
    expect(start.stderr).toContain('--max-body must be a positive number of bytes');
  }, 60_000); // two Node processes that compile TypeScript as they start
});
