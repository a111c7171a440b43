/**
 * Reading multipart/form-data as Atlas' uploadMedia does, for the simulator and the tests' fake: the
 * whole body is in memory (the simulator caps it, as Atlas caps bodies at 50 MB).
 */

/** The part named `field` of a multipart/form-data body, or undefined when there is none or the body is malformed. */
export function multipartField(
  contentType: string | undefined,
  body: Buffer,
  field: string,
): { filename: string | undefined; contentType: string | undefined; body: Buffer } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const delimiter = boundary?.[1] ?? boundary?.[2];
  if (!/^multipart\/form-data/i.test(contentType ?? '') || !delimiter) return undefined;
  const dash = Buffer.from(`--${delimiter}`);
  let at = body.indexOf(dash);
  while (at !== -1) {
    const headStart = at + dash.length + 2; // past the CRLF
    const headEnd = body.indexOf('\r\n\r\n', headStart);
    if (headEnd === -1) return undefined;
    const next = body.indexOf(Buffer.from(`\r\n--${delimiter}`), headEnd + 4);
    if (next === -1) return undefined;
    const head = body.subarray(headStart, headEnd).toString('utf8');
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(head)?.[1] ?? '';
    if (/\bname="([^"]*)"/.exec(disposition)?.[1] === field) {
      return {
        filename: /\bfilename="([^"]*)"/.exec(disposition)?.[1],
        contentType: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim(),
        body: body.subarray(headEnd + 4, next),
      };
    }
    at = next + 2;
  }
  return undefined;
}
