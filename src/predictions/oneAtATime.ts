const queues = new Map<string, Promise<unknown>>();

/**
 * Run `task` after every earlier task with the same key in this process has settled. Admissions of
 * one caller are serialised by an advisory lock in Postgres anyway; queueing them here first means
 * they wait in memory instead of each holding a pool connection while it waits for the lock, which
 * would starve every other query of the process (a burst from one caller could stall the writes
 * that record other jobs).
 */
export function oneAtATime<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const settled = run.then(
    () => {},
    () => {},
  );
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return run;
}
