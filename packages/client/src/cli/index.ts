#!/usr/bin/env node
/** The `happyhorse` binary: the command line (./run.ts) on this process' streams, Ctrl-C stopping the follow. */
import { main } from './run.ts';

const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupt.signal,
});
