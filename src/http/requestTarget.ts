/**
 * The path of a request target as sent (`/a/b` of `/a/b?c`), or undefined when the gateway does not
 * serve it as it stands: a target that is not a path (absolute-form `http://host/x`, `*`,
 * authority-form `host:443`), or a path that the URL parser reads as another one (dot segments such as
 * `/videos/../x` or `/%2e%2e/`, backslashes, a fragment, characters that need escaping).
 *
 * Why: routes match the path as sent, while Yoga, `send` and `new URL` read the parsed one. A path
 * they read differently would be claimed by one route and then served (or not) as another, which is
 * how `/videos/../x` went unanswered. Refused (400) instead of interpreted, every part sees one path.
 */
export function requestPath(target: string | undefined): string | undefined {
  if (!target?.startsWith('/')) return undefined;
  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  if (PLAIN_PATHS_SEEN.has(path)) return path;
  try {
    // After a fixed origin, never relative to one: `//` is a path here, not a host (new URL('//', base) throws).
    if (new URL(`http://gateway${path}`).pathname !== path) return undefined;
  } catch {
    return undefined;
  }
  if (PLAIN_PATHS_SEEN.size < MAX_PLAIN_PATHS_SEEN) PLAIN_PATHS_SEEN.add(path);
  return path;
}

/**
 * Paths already found plain, so that the one every GraphQL request asks for (`/graphql`) is not
 * parsed as a URL each time. Bounded, as paths come from clients: once full, the others are parsed.
 */
const PLAIN_PATHS_SEEN = new Set<string>();
const MAX_PLAIN_PATHS_SEEN = 64;
