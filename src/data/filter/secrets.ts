// Secrets in source files (cloud keys, private keys, access tokens) keep a file out of
// training: a model trained on them can complete them for anyone. The rules are a subset of
// gitleaks' default rule set (github.com/gitleaks/gitleaks, config/gitleaks.toml, MIT), chosen
// for their distinctive prefixes, which give few false positives on code; ids are gitleaks'.
// The detail names the rule and line, never the secret itself.

export interface SecretRule {
  id: string;
  what: string;
  re: RegExp;
  /** gitleaks' minimum Shannon entropy of the match (bits per character), when it sets one. */
  entropy?: number;
  /** Matches that are documented examples, not secrets. */
  allow?: RegExp;
}

export const SECRET_RULES: SecretRule[] = [
  {
    id: 'aws-access-token',
    what: 'an AWS access key',
    re: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g,
    entropy: 3,
    allow: /EXAMPLE$/,
  },
  {
    id: 'private-key',
    what: 'a private key',
    re: /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{64,}?KEY(?: BLOCK)?-----/gi,
  },
  { id: 'github-pat', what: 'a GitHub personal access token', re: /\bghp_[0-9a-zA-Z]{36}\b/g, entropy: 3 },
  { id: 'github-fine-grained-pat', what: 'a GitHub fine-grained token', re: /\bgithub_pat_\w{82}\b/g, entropy: 3 },
  { id: 'github-oauth', what: 'a GitHub OAuth token', re: /\bgho_[0-9a-zA-Z]{36}\b/g, entropy: 3 },
  { id: 'github-app-token', what: 'a GitHub app token', re: /\b(?:ghu|ghs)_[0-9a-zA-Z]{36}\b/g, entropy: 3 },
  { id: 'github-refresh-token', what: 'a GitHub refresh token', re: /\bghr_[0-9a-zA-Z]{36}\b/g, entropy: 3 },
  { id: 'gitlab-pat', what: 'a GitLab personal access token', re: /\bglpat-[\w-]{20}\b/g, entropy: 3 },
  { id: 'slack-bot-token', what: 'a Slack bot token', re: /\bxoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*/g, entropy: 3 },
  { id: 'slack-user-token', what: 'a Slack user token', re: /\bxox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}/g, entropy: 2 },
  { id: 'stripe-access-token', what: 'a Stripe key', re: /\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}\b/g, entropy: 2 },
  { id: 'gcp-api-key', what: 'a Google Cloud API key', re: /\bAIza[\w-]{35}(?![\w-])/g, entropy: 3 },
  { id: 'npm-access-token', what: 'an npm access token', re: /\bnpm_[a-zA-Z0-9]{36}\b/g, entropy: 2 },
  { id: 'pypi-upload-token', what: 'a PyPI upload token', re: /\bpypi-AgEIcHlwaS5vcmc[\w-]{50,1000}/g },
  { id: 'huggingface-access-token', what: 'a Hugging Face access token', re: /\bhf_[a-zA-Z]{34}\b/g, entropy: 2 },
  { id: 'anthropic-api-key', what: 'an Anthropic API key', re: /\bsk-ant-api03-[a-zA-Z0-9_-]{93}AA\b/g },
  {
    id: 'openai-api-key',
    what: 'an OpenAI API key',
    re: /\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{58,74}|[a-zA-Z0-9]{20})T3BlbkFJ[A-Za-z0-9_-]{20,74}/g,
    entropy: 3,
  },
];

/** Shannon entropy in bits per character (gitleaks' filter against placeholder strings). */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/** The first secret in `text` as "what (gitleaks rule id) on line N", or null. */
export function findSecret(text: string): string | null {
  let first: { at: number; rule: SecretRule } | null = null;
  for (const rule of SECRET_RULES) {
    rule.re.lastIndex = 0;
    for (let m = rule.re.exec(text); m; m = rule.re.exec(text)) {
      if (first && m.index >= first.at) break;
      if (rule.allow?.test(m[0])) continue;
      if (rule.entropy !== undefined && shannonEntropy(m[0]) < rule.entropy) continue;
      first = { at: m.index, rule };
      break;
    }
  }
  if (!first) return null;
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < first.at; i = text.indexOf('\n', i + 1)) line++;
  return `${first.rule.what} (gitleaks rule ${first.rule.id}) on line ${line}`;
}
