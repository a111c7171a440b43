import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import send from 'send';
import type { Db } from '../db/database.ts';
import { findUpload } from '../db/queries/findUpload.ts';
import { beginReceiving, stopReceiving } from '../db/queries/receiveUpload.ts';
import { settleUpload } from '../db/queries/settleUpload.ts';
import { ErrorCode } from '../errorCodes.ts';
import { answerError, type Route } from '../http/routes.ts';
import type { FileStorage } from '../storage/fileStorage.ts';
import { UploadInspector, UploadRejected, type Verdict } from './inspect.ts';
import { isUploadId, UPLOAD_PATH_PREFIX, verifyReadLink } from './service.ts';

/**
 * `PUT /uploads/<id>?expires=…&signature=…`: the one PUT of an upload's bytes, with file storage. The
 * signed link (from createUpload) is the credential, so a browser can send it without the caller's
 * token. The bytes are checked as they stream into storage (inspect.ts) and the upload is settled
 * READY (200) or REJECTED (422, naming the rule; nothing is kept); a second PUT is refused (409). A
 * client that goes away mid-body leaves the upload PENDING, to be sent again.
 *
 * `GET /uploads/<id>?expires=…&signature=…` (and HEAD): a READY upload's bytes, for Atlas to fetch
 * with the link `UploadService.upstreamUrl` signed (PUBLIC_URL set); with its type, its length and
 * byte ranges. A read link is signed apart from the PUT link, so neither opens the other's method.
 */
export function uploadRoute(deps: {
  db: Db;
  files: FileStorage;
  corsOrigins: string[] | undefined;
  /** HTTP_REQUEST_TIMEOUT_MS: no PUT lasts longer, so a mark older than this is one whose process died. */
  requestTimeoutMs: number;
}): Route {
  const { db, files } = deps;
  return async ({ req, res, path, requestId, log }) => {
    if (!path.startsWith(UPLOAD_PATH_PREFIX)) return false;
    const origin = req.headers.origin;
    const cors = origin && deps.corsOrigins?.some((allowed) => allowed === '*' || allowed === origin);
    if (cors) res.setHeader('access-control-allow-origin', origin);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...(cors
          ? {
              'access-control-allow-methods': 'PUT',
              'access-control-allow-headers': 'content-type',
              'access-control-max-age': '600',
            }
          : {}),
      });
      res.end();
      return true;
    }
    const id = path.slice(UPLOAD_PATH_PREFIX.length);
    const reading = req.method === 'GET' || req.method === 'HEAD';
    if (req.method !== 'PUT' && !reading) {
      res.setHeader('allow', 'GET, HEAD, PUT, OPTIONS');
      answerError(res, 405, ErrorCode.METHOD_NOT_ALLOWED, 'An upload takes one PUT of its bytes', requestId);
      return true;
    }
    if (!isUploadId(id)) {
      answerError(res, 404, ErrorCode.NOT_FOUND, 'Nothing is served at this path', requestId);
      return true;
    }
    const query = new URL(req.url ?? '/', 'http://gateway').searchParams;
    if (reading) {
      const signature = verifyReadLink(files.signer, id, query.get('expires'), query.get('signature'));
      if (signature !== 'valid') {
        const message =
          signature === 'expired' ? 'This link to an upload has expired' : 'This link is not signed by the gateway';
        answerError(res, 403, ErrorCode.FORBIDDEN, message, requestId);
        return true;
      }
      const upload = await findUpload(db, id);
      if (upload?.status !== 'READY') {
        answerError(res, 404, ErrorCode.NOT_FOUND, 'This upload no longer exists', requestId);
        return true;
      }
      serveBytes(req, res, files.dir, upload.storageKey, upload.contentType, () =>
        answerError(res, 404, ErrorCode.NOT_FOUND, 'This upload no longer exists', requestId),
      );
      return true;
    }
    const signature = files.signer.verify(path, query.get('expires'), query.get('signature'));
    if (signature !== 'valid') {
      const message =
        signature === 'expired' ? 'This upload link has expired' : 'This upload link is not signed by the gateway';
      answerError(res, 403, ErrorCode.FORBIDDEN, message, requestId);
      return true;
    }

    const upload = await beginReceiving(db, id, new Date(Date.now() - deps.requestTimeoutMs - 5_000));
    if (!upload) {
      const current = await findUpload(db, id);
      if (!current) answerError(res, 404, ErrorCode.NOT_FOUND, 'This upload no longer exists', requestId);
      else if (current.status === 'PENDING' && current.expiresAt.getTime() <= Date.now())
        answerError(res, 403, ErrorCode.FORBIDDEN, 'This upload has expired', requestId);
      else {
        // PENDING: another PUT has it (or let it go a moment ago: this one may be tried again).
        const state = current.status === 'PENDING' ? 'being received by another PUT' : current.status;
        answerError(
          res,
          409,
          ErrorCode.UPLOAD_ALREADY_SENT,
          `This upload's bytes were already sent (it is ${state}); create another upload to send other bytes`,
          requestId,
        );
      }
      return true;
    }

    const answer = async (verdict: Verdict) => {
      const settled = await settleUpload(db, upload.id, verdict);
      if (settled?.status !== 'READY') await files.delete(upload.storageKey);
      log.info('upload received', { uploadId: upload.id, status: settled?.status, reason: settled?.rejectionReason });
      if (!settled) answerError(res, 404, ErrorCode.NOT_FOUND, 'This upload no longer exists', requestId);
      else if (settled.status === 'REJECTED') {
        res.setHeader('connection', 'close');
        answerError(res, 422, ErrorCode.UPLOAD_REJECTED, `Upload rejected: ${settled.rejectionReason}`, requestId);
      } else json(res, 200, { id: settled.id, status: settled.status, width: settled.width, height: settled.height });
    };

    const declaredLength = req.headers['content-length'];
    if (declaredLength !== undefined && Number(declaredLength) !== upload.byteSize) {
      // Refused before a byte is stored.
      const rejectionReason = `byteSize: declared ${upload.byteSize} bytes, but the request's Content-Length is ${declaredLength}`;
      await answer({ status: 'REJECTED', rejectionReason });
      return true;
    }
    const inspector = new UploadInspector(upload);
    async function* checked(source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        inspector.push(chunk);
        yield chunk;
      }
    }
    try {
      await files.put(upload.storageKey, Readable.from(checked(req), { objectMode: false }), {
        contentType: upload.contentType,
        signal: new AbortController().signal,
      });
    } catch (error) {
      if (error instanceof UploadRejected) {
        await answer({ status: 'REJECTED', rejectionReason: error.reason });
        return true;
      }
      // The client went away mid-body, or storage failed: nothing is kept, and it may be sent again.
      await stopReceiving(db, upload.id);
      if (req.destroyed || req.readableAborted) {
        log.info('upload cut by the client; it may be sent again', {
          uploadId: upload.id,
          received: inspector.received,
        });
        return true;
      }
      throw error;
    }
    await answer(inspector.end());
    return true;
  };
}

/** The stored file, with its declared type (the file has no extension to guess one from), its length and ranges. */
function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  key: string,
  contentType: string,
  gone: () => void,
): void {
  const stream = send(req, key, { root, cacheControl: false, index: false, dotfiles: 'deny', etag: false });
  stream.on('headers', (response: ServerResponse) => {
    response.setHeader('content-type', contentType);
    // The link is the credential: no shared cache keeps it.
    response.setHeader('cache-control', 'private, no-store');
  });
  stream.on('error', (error: { status?: number; headers?: Record<string, string> }) => {
    if (res.headersSent) return void res.destroy();
    if (error.status === 404) return gone();
    const status = error.status === 416 ? 416 : 500;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...(error.headers ?? {}) });
    res.end(status === 416 ? 'Range Not Satisfiable' : 'Internal Server Error');
  });
  stream.pipe(res);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
