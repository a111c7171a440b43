/**
 * Reading the deployment files as Docker and Compose read them, as far as these tests need: no Docker
 * engine runs here, so what the engine would do with them is checked by reading.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
}

export interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

/** Stages in order; comments and blank lines dropped, `\` continuations joined (as Docker does). */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  if (pending) throw new Error('the Dockerfile ends in a line continuation');

  const stages: Stage[] = [];
  for (const line of logical.filter(Boolean)) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (keyword.toUpperCase() === 'FROM') {
      const [base = '', as, name] = args.split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${keyword} before the first FROM`);
    stage.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

export function readDockerfile(): Stage[] {
  return parseDockerfile(readFileSync(`${ROOT}/Dockerfile`, 'utf8'));
}

export function all(stage: Stage, keyword: string): string[] {
  return stage.instructions
    .filter((instruction) => instruction.keyword === keyword)
    .map((instruction) => instruction.args);
}

/** The last instruction of a kind (the one Docker uses, for CMD, USER, HEALTHCHECK). */
export function last(stage: Stage, keyword: string): string | undefined {
  return all(stage, keyword).at(-1);
}

/** The exec (JSON array) form; throws on the shell form, which would put a shell between Docker's signals and Node. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string'))
    throw new Error(`not an exec form: ${args}`);
  return parsed;
}

/** `ENV A=1 B="two words"`: the pairs, quotes removed. */
export function envPairs(args: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|(\S*))/g)) {
    pairs[match[1]!] = match[3] ?? match[4] ?? match[5] ?? '';
  }
  return pairs;
}

/** The environment a stage sets, later ENV instructions winning. */
export function stageEnv(stage: Stage): Record<string, string> {
  return Object.assign({}, ...all(stage, 'ENV').map(envPairs));
}

export interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

export function copies(stage: Stage): Copy[] {
  return all(stage, 'COPY').map((args) => {
    const words = args.split(/\s+/);
    const flags = words.filter((word) => word.startsWith('--'));
    const paths = words.filter((word) => !word.startsWith('--'));
    const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
    return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
  });
}

/** `HEALTHCHECK [--option=value …] CMD [...]`: the options and the command. */
export function healthcheck(args: string): { options: Record<string, string>; command: string[] } {
  const match = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])$/s.exec(args.trim());
  if (!match) throw new Error(`HEALTHCHECK not in the form --options CMD [exec form]: ${args}`);
  const options = Object.fromEntries(
    [...match[1]!.matchAll(/--([a-z-]+)=(\S+)/g)].map((option) => [option[1]!, option[2]!]),
  );
  return { options, command: execForm(match[2]!) };
}

/**
 * Whether .dockerignore keeps a path (relative to the context) out of the build context. Patterns as
 * this repo writes them: a name or a glob with `*`, matching the path or any folder above it.
 */
export function dockerIgnored(patterns: string[], path: string): boolean {
  const parts = path.split('/');
  return patterns.some((pattern) => {
    const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return parts.some((_, index) => regex.test(parts.slice(0, index + 1).join('/')));
  });
}

export function readDockerignore(): string[] {
  return readFileSync(`${ROOT}/.dockerignore`, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

export interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean | null>;
  env_file?: string | Array<string | { path: string; required?: boolean }>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test: string[] | string };
  stop_grace_period?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function readCompose(): ComposeFile {
  return parseYaml(readFileSync(`${ROOT}/docker-compose.yml`, 'utf8')) as ComposeFile;
}

/**
 * Compose's interpolation of `${NAME}`, `${NAME:-default}` and `$$` against the variables of the
 * shell and .env (`vars`); any other form is refused, so a test cannot silently misread one.
 */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}|\$[A-Za-z_]/g,
    (match, name?: string, fallback?: string) => {
      if (match === '$$') return '$';
      if (!name) throw new Error(`an interpolation these tests do not understand: ${match}`);
      const set = vars[name];
      if (fallback !== undefined) return set ? set : fallback;
      return set ?? '';
    },
  );
}

/** A service's environment as the container gets it, interpolated against `vars`. */
export function serviceEnv(service: ComposeService, vars: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([name, value]) => [
      name,
      interpolate(value === null ? '' : String(value), vars),
    ]),
  );
}

/** The files a service's `env_file` names, in order, as paths relative to the compose file. */
export function envFiles(service: ComposeService): Array<{ path: string; required: boolean }> {
  const files = service.env_file === undefined ? [] : [service.env_file].flat();
  return files.map((file) => (typeof file === 'string' ? { path: file, required: true } : { required: true, ...file }));
}

/**
 * What the container gets from compose when `.env` beside the compose file holds `dotenv`: the
 * variables of each env_file that is that `.env` (all of them, whatever their names), then
 * `environment` (which wins), interpolated against the same variables (compose reads .env for both).
 */
export function composeEnv(service: ComposeService, dotenv: Record<string, string>): Record<string, string> {
  const fromFiles = envFiles(service).some((file) => file.path.replace(/^\.\//, '') === '.env') ? dotenv : {};
  return { ...fromFiles, ...serviceEnv(service, dotenv) };
}

/** `45s`, `1m30s`, `500ms` in milliseconds (Compose's duration format). */
export function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  let total = 0;
  let rest = text.trim();
  while (rest) {
    const match = /^(\d+(?:\.\d+)?)(h|ms|m|s|us)/.exec(rest);
    if (!match) throw new Error(`not a duration: ${text}`);
    total += Number(match[1]) * units[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return total;
}
