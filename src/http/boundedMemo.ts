/**
 * `compute(key)`, remembered for the first `max` keys seen. For parses of what clients send on every
 * request (a path, a Host): nearly all send the same few, and the bound keeps what clients choose from
 * growing the memory; keys past it are computed each time.
 */
export function boundedMemo<K, V>(max: number, compute: (key: K) => V): (key: K) => V {
  const memo = new Map<K, V>();
  return (key) => {
    if (memo.has(key)) return memo.get(key) as V;
    const value = compute(key);
    if (memo.size < max) memo.set(key, value);
    return value;
  };
}
