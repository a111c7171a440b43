/**
 * What `npm run build` reads (the Dockerfile's build stage copies the same, and the published client's
 * generated documents): a cached production build (test/production.test.ts, bench/support.ts) is
 * made again whenever the content of any of these changed.
 */
export const BUILD_INPUTS = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.server.json',
  'scripts',
  'src',
  'packages/client/src',
];
