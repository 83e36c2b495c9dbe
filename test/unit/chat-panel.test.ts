// The Chat panel's pure parts: an answer split into text and fenced code blocks (also while
// a fence is still streaming), and the Continue settings with a chat model next to autocomplete.
import { describe, expect, it } from 'vitest';
import { answerParts } from '../../src/ui/use/chat-client.ts';
import { editorSettings } from '../../src/ui/use/editor-settings.ts';

describe('chat panel', () => {
  it('splits an answer at code fences, with the language; an unclosed fence is code to the end', () => {
    expect(answerParts('Here:\n```python\ndef f():\n    pass\n```\nDone.')).toEqual([
      { kind: 'text', text: 'Here:\n' },
      { kind: 'code', text: 'def f():\n    pass', lang: 'python' },
      { kind: 'text', text: '\nDone.' },
    ]);
    expect(answerParts('```\nx = 1')).toEqual([{ kind: 'code', text: 'x = 1', lang: undefined }]);
    expect(answerParts('plain')).toEqual([{ kind: 'text', text: 'plain' }]);
  });

  it("Continue's settings add a chat model next to autocomplete; the OpenAI ones show a chat call", () => {
    const s = editorSettings('http://127.0.0.1:8008', 'k');
    const cont = s.find((e) => e.id === 'continue')!.text;
    expect(cont).toMatch(/roles:\n {6}- autocomplete\n/);
    expect(cont).toMatch(
      /name: Homecoder chat\n {4}provider: ollama\n {4}model: homecoder\n {4}apiBase: http:\/\/127\.0\.0\.1:8008\n {4}apiKey: k\n {4}roles:\n {6}- chat\n/,
    );
    expect(s.find((e) => e.id === 'openai')!.text).toContain('/v1/chat/completions');
  });
});
