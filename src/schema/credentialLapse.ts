import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin, Repeater } from 'graphql-yoga';
import type { CredentialWatch } from '../auth/credentialWatch.ts';
import type { HeldCredential } from '../auth/principal.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { GatewayContext } from './builder.ts';

/**
 * The last event of a stream whose credential stopped holding (a revoked API key, an expired JWT).
 * A class of its own so that the WebSocket transport can tell it apart and send it as an `error`.
 */
export class CredentialLapsed extends GraphQLError {
  constructor(reason: string) {
    super(`Not authenticated: ${reason}`, { extensions: { code: ErrorCode.UNAUTHENTICATED } });
  }
}

/**
 * Every subscription, on every transport (SSE and WebSocket run the same envelop plugins), ends once
 * its caller's credential stops holding: an event with the UNAUTHENTICATED error, then completion.
 * A credential is checked when the stream opens, like any request's; this covers the time after.
 */
export function endStreamsWhenCredentialsLapse(credentials: CredentialWatch): Plugin<GatewayContext> {
  return {
    onSubscribe: ({ args }) => ({
      onSubscribeResult({ result, setResult }) {
        if (isAsyncIterable(result)) setResult(untilLapse(result, args.contextValue.principal.credential, credentials));
      },
    }),
  };
}

function untilLapse(
  results: AsyncIterableIterator<ExecutionResult>,
  credential: HeldCredential,
  credentials: CredentialWatch,
): AsyncIterableIterator<ExecutionResult> {
  if (credential.kind === 'none') return results;
  return new Repeater<ExecutionResult>(async (push, stop) => {
    const source = results[Symbol.asyncIterator]();
    const unwatch = credentials.watch(credential, (reason) => {
      // The stream's last word: events already handed over still go out first, none after it.
      void push({ errors: [new CredentialLapsed(reason)] });
      stop();
    });
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([source.next(), stopped]);
        if (next.done) break;
        await push(next.value);
      }
    } finally {
      unwatch();
      stop();
      await source.return?.();
    }
  });
}
