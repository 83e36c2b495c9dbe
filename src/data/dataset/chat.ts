// Conversations for supervised training (supervised.ts, supervised-encode.ts): one message
// of a {"messages":[{"role","content"},...]} line, and the model's chat template lookup.

export interface ChatMessage {
  role: string;
  content: string;
}

// The template lookup is shared with serving (src/model/chat-template.ts).
export { chatTemplateOf } from '../../model/chat-template.ts';
