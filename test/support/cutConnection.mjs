// Reproduces postgres.js 3.4.9's write-after-close defects (porsager/postgres#1066, #1154, #1208) in a
// process of its own: unpatched, they are exceptions thrown from a setImmediate, which nobody can
// catch and which kill the process. Usage: node cutConnection.mjs <database url> <scenario>.
// Prints one JSON line with what the scenario's queries ended in.
import net from 'node:net';
import postgres from 'postgres';

const [url, scenario] = process.argv.slice(2);
const outcome = (query) =>
  query.then(
    (rows) => rows[0]?.n ?? 'resolved',
    (error) => error.code ?? error.message,
  );

const scenarios = {
  /**
   * The server cuts a transaction's connection (what a Postgres restart does); the transaction then
   * sends one more query. Unpatched, that query is written to a null socket.
   */
  async 'server-cut'() {
    let closed;
    const whenClosed = new Promise((resolve) => (closed = resolve));
    const sql = postgres(url, { max: 1, onnotice() {}, onclose: () => closed() });
    const admin = postgres(url, { max: 1, onnotice() {} });
    // The transaction itself may be rejected as soon as the connection drops, before its callback has
    // sent the query after the cut: wait for that query, not for the transaction.
    let sent;
    const afterCut = new Promise((resolve) => (sent = resolve));
    await sql
      .begin(async (tx) => {
        const [{ pid }] = await tx`select pg_backend_pid() as pid`;
        await admin`select pg_terminate_backend(${pid})`;
        await whenClosed;
        sent(outcome(tx`select 1 as n`));
      })
      .catch(() => {});
    const result = { queryAfterCut: await afterCut, poolAfterCut: await outcome(sql`select 2 as n`) };
    await Promise.all([sql.end({ timeout: 1 }), admin.end({ timeout: 1 })]);
    return result;
  },

  /**
   * The socket dies while a small query is still buffered for the next tick. Unpatched, the buffered
   * write goes to a dead socket, and the connection keeps a stale write timer that stops it from
   * ever flushing again.
   */
  async 'buffered-write'() {
    let socket;
    const sql = postgres(url, {
      max: 1,
      onnotice() {},
      connect_timeout: 3,
      // postgres.js takes a connected socket from this option; keeping it lets us destroy it.
      socket: ({ host, port }) =>
        new Promise((resolve, reject) => {
          socket = net
            .connect(port[0], host[0])
            .once('connect', () => resolve(socket))
            .once('error', reject);
        }),
    });
    await sql`select 1`;
    const buffered = outcome(sql`select 2 as n`.execute());
    socket.destroy();
    const result = { bufferedWhenCut: await buffered };
    await new Promise((resolve) => socket.once('close', resolve));
    result.nextQuery = await outcome(sql`select 3 as n`);
    await sql.end({ timeout: 1 });
    return result;
  },
};

console.log(JSON.stringify(await scenarios[scenario]()));
