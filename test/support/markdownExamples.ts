/**
 * Reading the fenced examples of the README and docs/*.md, so tests can run them as a reader would:
 * the blocks themselves, the answers shown beside shell commands, and a shape comparison where `…`
 * stands for whatever a real answer holds there.
 */

/** The fenced block of `language` under the `## heading` of `markdown` (the README's examples). */
export function blockUnder(markdown: string, heading: string, language: string): string {
  const section = markdown.split(/^## /m).find((part) => part.startsWith(heading));
  const match = section?.match(new RegExp(`\`\`\`${language}(?: [^\\n]*)?\\n([\\s\\S]*?)\`\`\``));
  if (!match) throw new Error(`no ${language} block under "${heading}"`);
  return match[1]!;
}

/** What a docs example promises: run against a gateway, type-checked, env-checked, or skipped for a stated reason. */
export const DECISIONS = ['run', 'check', 'config', 'skip'] as const;
export type Decision = (typeof DECISIONS)[number];

export interface FencedBlock {
  /** `docs/client.md:20`, where the opening fence is. */
  where: string;
  language: string;
  /** The word after the language in the info string (```ts check), if it is one of DECISIONS. */
  decision: Decision | undefined;
  /** The rest of the info string: for `skip`, why. */
  note: string;
  code: string;
}

/** Every fenced block of a markdown file, with the decision its info string states. */
export function fencedBlocks(markdown: string, file: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const opening = lines[index]!.match(/^```(\S*)(?:\s+([\w-]+):?)?\s*(.*)$/);
    if (!opening) continue;
    const end = lines.findIndex((line, at) => at > index && line.startsWith('```'));
    if (end < 0) throw new Error(`${file}:${index + 1}: unclosed fence`);
    const word = opening[2];
    const decision = DECISIONS.find((known) => known === word);
    blocks.push({
      where: `${file}:${index + 1}`,
      language: opening[1]!,
      decision,
      note: decision ? opening[3]!.trim() : `${word ?? ''} ${opening[3]}`.trim(),
      code: lines.slice(index + 1, end).join('\n'),
    });
    index = end;
  }
  return blocks;
}

export interface CurlExample {
  command: string;
  /** The answer's lines shown after it (`# => {…}` or the stream's `# data: {…}`), as JSON text. */
  shown: string[];
}

/** Each curl command of a shell block, with the JSON shown as its answer. */
export function curlExamples(sh: string): CurlExample[] {
  const examples: CurlExample[] = [];
  for (const line of sh.split('\n')) {
    if (line.startsWith('curl ')) examples.push({ command: line, shown: [] });
    else if (line.startsWith('#')) {
      // The docs' stand-in id (8c0d…) stands for whichever id the job got.
      const answer = line.match(/^# (?:=> |data: )(\{.*\})$/)?.[1]?.replaceAll('8c0d…', '…');
      if (answer && examples.length > 0) examples.at(-1)!.shown.push(answer);
    } else if (line.trim() && examples.length > 0) examples.at(-1)!.command += `\n${line}`;
  }
  return examples;
}

/** Whether `actual` has the shape of `shown`: the same keys, the same values, `…` in a string matching anything. */
export function sameShape(actual: unknown, shown: unknown): boolean {
  if (typeof shown === 'string' && shown.includes('…')) {
    const pattern = shown
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return typeof actual === 'string' && new RegExp(`^${pattern}$`).test(actual);
  }
  if (Array.isArray(shown))
    return Array.isArray(actual) && actual.length === shown.length && shown.every((s, i) => sameShape(actual[i], s));
  if (shown && typeof shown === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(shown);
    return (
      keys.length === Object.keys(actual).length &&
      keys.every((key) => sameShape((actual as Record<string, unknown>)[key], (shown as Record<string, unknown>)[key]))
    );
  }
  return actual === shown;
}
