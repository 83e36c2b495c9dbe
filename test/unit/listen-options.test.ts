// The bridge's listen options as `npm start` and `homecoder serve` both read them: defaults,
// the environment, and a bad value refused the same way by both (a message, exit code 2).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { ListenOptionError, parseListenOptions } from '../../src/bridge/listen-options.ts';
import { runCli } from '../helpers/cli.ts';

describe('listen options', () => {
  it('default to loopback:8008, take the environment, and let the flags win', () => {
    expect(parseListenOptions({}, {})).toEqual({ host: '127.0.0.1', port: 8008, apiKey: undefined, maxBodyBytes: undefined });
    const env = { HOMECODER_HOST: '::1', HOMECODER_PORT: '9000', HOMECODER_API_KEY: 'k' };
    expect(parseListenOptions({}, env)).toEqual({ host: '::1', port: 9000, apiKey: 'k', maxBodyBytes: undefined });
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
