import { boundedMemo } from './boundedMemo.ts';

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
  return isPlainPath(path) ? path : undefined;
}

/** Whether the URL parser reads the path as it stands; remembered, as every GraphQL request asks for `/graphql`. */
const isPlainPath = boundedMemo(64, (path: string) => {
  try {
    // After a fixed origin, never relative to one: `//` is a path here, not a host (new URL('//', base) throws).
    return new URL(`http://gateway${path}`).pathname === path;
  } catch {
    return false;
  }
});
