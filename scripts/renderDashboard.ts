/**
 * Draws ops/grafana/gateway.json's panels once, as the README's picture (ops/grafana/gateway.png),
 * where no Grafana runs: a gateway on PGlite runs simulated jobs for a minute (some failing, some
 * cancelled, some watched live) against the built-in simulator behind a proxy that fails one status
 * call in six (503 or 429); /metrics is scraped every two seconds; each panel's expressions are
 * evaluated over those scrapes by the few PromQL forms they use (below), drawn as SVG and
 * screenshotted with Chromium.
 *   npx tsx scripts/renderDashboard.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { createGateway } from '../src/server.ts';
import { startAtlasSimulator } from '../src/simulator/atlasSimulator.ts';
import { launchChromium } from '../test/support/browser.ts';
import { parseMetrics } from '../test/support/metrics.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUN_MS = 60_000;
const SCRAPE_MS = 2_000;
/** The rate window, in scrapes (10 s): short, as the whole run is a minute. */
const WINDOW = 5;

type Sample = ReturnType<typeof parseMetrics>[number];
type Scrape = { at: number; samples: Sample[] };
interface Dashboard {
  title: string;
  panels: Array<{
    title: string;
    targets: Array<{ expr: string; legendFormat: string }>;
    fieldConfig: { defaults: { unit: string } };
  }>;
}

const simulator = await startAtlasSimulator({ jobMs: 6_000 });
// Fails one status call in six, as a flaky upstream would: the gateway retries them.
let calls = 0;
const proxy = createServer((req, res) => {
  const status = req.method === 'GET' && req.url?.includes('/prediction/') && ++calls % 6 === 0;
  if (status) {
    res.writeHead(calls % 12 === 0 ? 429 : 503, { 'content-type': 'application/json' });
    return void res.end('{"code":503,"message":"try again"}');
  }
  const target = new URL(req.url ?? '/', simulator.url);
  const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (reply) => {
    res.writeHead(reply.statusCode ?? 502, reply.headers);
    reply.pipe(res);
  });
  req.pipe(upstream);
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));

const config = loadConfig({
  NODE_ENV: 'development',
  ATLASCLOUD_API_KEY: 'sk-render',
  ATLASCLOUD_BASE_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
  AUTH_MODE: 'none',
  DATA_DIR: mkdtempSync(join(tmpdir(), 'hh-render-')),
  STORAGE_URL: 'none',
  POLL_INTERVAL_MS: '500',
  UPSTREAM_RETRIES: '0',
  LIMIT_DAILY_SPEND_USD_TOTAL: '6',
  LIMIT_DAILY_SPEND_USD: '4',
});
const database = await openDatabase({ dataDir: 'memory://' });
const gateway = await createGateway(config, createLogger('silent'), { database });
const url = await gateway.listen(0, '127.0.0.1');

const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: Record<string, { prediction?: { id: string } }> };
};
const submit = async (prompt: string) =>
  (await graphql('mutation($p: String!) { generateVideo(input: { prompt: $p }) { prediction { id } } }', { p: prompt }))
    .data?.generateVideo?.prediction?.id;

const scrapes: Scrape[] = [];
const started = Date.now();
const streams: AbortController[] = [];
for (let tick = 0; Date.now() - started < RUN_MS; tick++) {
  // About one job a second for 40 s: one in five fails upstream, one in seven is cancelled.
  if (Date.now() - started < 40_000) {
    const id = await submit(tick % 5 === 4 ? 'a horse [fail]' : `a horse, take ${tick}`);
    if (id && tick % 7 === 3)
      setTimeout(() => void graphql('mutation($id: ID!) { cancelPrediction(id: $id) { id } }', { id }), 1_500);
    // Some jobs are watched live for a while: open streams.
    if (id && tick % 3 === 0) {
      const watch = new AbortController();
      streams.push(watch);
      void fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: `subscription { predictionUpdated(id: "${id}") { status } }` }),
        signal: watch.signal,
      })
        .then((response) => response.text())
        .catch(() => {});
      setTimeout(() => watch.abort(), 12_000);
    }
  }
  if (tick % 2 === 0) {
    const text = await (await fetch(new URL('/metrics', url))).text();
    scrapes.push({ at: (Date.now() - started) / 1000, samples: parseMetrics(text) });
  }
  await sleep(SCRAPE_MS / 2);
}
for (const watch of streams) watch.abort();
await gateway.close();
await database.close();
await simulator.close();
proxy.close();

/** One series: its legend and its points (seconds into the run, value). */
type Series = { name: string; points: Array<[number, number]> };

/**
 * The expression's series over the scrapes: only the forms the dashboard uses, each recognised by its
 * shape (sum/max by labels over a metric or its rate, histogram_quantile of a rate), matchers included.
 */
function evaluate(expr: string, legend: string): Series[] {
  const quantile = /^histogram_quantile\(([\d.]+), sum by \(le\) \(rate\((\w+)\[\w+\]\)\)\)$/.exec(expr);
  if (quantile) return [{ name: legend, points: histogramQuantile(Number(quantile[1]), quantile[2]!) }];
  const match = /^(sum|max)(?: by \(([^)]*)\) )?\((rate\()?(\w+)(\{[^}]*\})?(?:\[\w+\]\))?\)$/.exec(expr);
  if (!match) throw new Error(`renderDashboard does not evaluate: ${expr}`);
  const [, how, by = '', rate, name, matchers = ''] = match;
  const keys = by
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  const wanted = [...matchers.matchAll(/(\w+)(=|!~)"([^"]*)"/g)].map(([, key, op, value]) => ({
    key: key!,
    op,
    value: value!,
  }));
  const fits = (sample: Sample) =>
    sample.name === name &&
    wanted.every(({ key, op, value }) =>
      op === '=' ? sample.labels[key] === value : !new RegExp(`^(?:${value})$`).test(sample.labels[key] ?? ''),
    );
  const groups = new Map<string, Series>();
  scrapes.forEach((scrape, i) => {
    const values = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const sample of scrape.samples.filter(fits)) {
      let value = sample.value;
      if (rate) {
        if (i < WINDOW) continue;
        const before = scrapes[i - WINDOW]!.samples.find(
          (old) => old.name === sample.name && JSON.stringify(old.labels) === JSON.stringify(sample.labels),
        );
        value = (sample.value - (before?.value ?? 0)) / (scrape.at - scrapes[i - WINDOW]!.at);
      }
      const labels = Object.fromEntries(keys.map((key) => [key, sample.labels[key] ?? 'gateway-1']));
      const group = JSON.stringify(labels);
      const held = values.get(group);
      values.set(group, {
        labels,
        value: held === undefined ? value : how === 'sum' ? held.value + value : Math.max(held.value, value),
      });
    }
    for (const [group, { labels, value }] of values) {
      const series = groups.get(group) ?? {
        name: legend.replace(/\{\{(\w+)\}\}/g, (_all, key: string) => labels[key] ?? ''),
        points: [],
      };
      series.points.push([scrape.at, value]);
      groups.set(group, series);
    }
  });
  return [...groups.values()];
}

function histogramQuantile(q: number, bucketName: string): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (let i = WINDOW; i < scrapes.length; i++) {
    const delta = (scrape: Scrape) =>
      scrape.samples.filter((sample) => sample.name === bucketName).map((s) => [Number(s.labels.le), s.value] as const);
    const now = delta(scrapes[i]!);
    const then = new Map(delta(scrapes[i - WINDOW]!));
    const buckets = now.map(([le, count]) => [le, count - (then.get(le) ?? 0)] as const).sort((a, b) => a[0] - b[0]);
    const total = buckets.at(-1)?.[1] ?? 0;
    if (total === 0) continue;
    let lower = 0;
    let below = 0;
    for (const [le, count] of buckets) {
      if (count >= q * total) {
        const upper = Number.isFinite(le) ? le : lower;
        points.push([scrapes[i]!.at, lower + ((q * total - below) / Math.max(1e-9, count - below)) * (upper - lower)]);
        break;
      }
      lower = le;
      below = count;
    }
  }
  return points;
}

const COLORS = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#fade2a'];
function chart(series: Series[], unit: string): string {
  const width = 560;
  const height = 190;
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...all.map(([x]) => x));
  const maxY = Math.max(1e-9, ...all.map(([, y]) => y)) * 1.1;
  const x = (value: number) => 40 + (value / maxX) * (width - 50);
  const y = (value: number) => height - 20 - (value / maxY) * (height - 30);
  const format = (value: number) =>
    unit === 'currencyUSD'
      ? `$${value.toFixed(2)}`
      : unit === 's'
        ? `${value < 1 ? value.toFixed(2) : value.toFixed(0)} s`
        : value < 10
          ? value.toFixed(1)
          : value.toFixed(0);
  const grid = [0, 0.5, 1]
    .map(
      (f) =>
        `<line x1="40" x2="${width - 10}" y1="${y(maxY * f)}" y2="${y(maxY * f)}" stroke="#2c3235"/><text x="36" y="${y(maxY * f) + 4}" text-anchor="end">${format(maxY * f)}</text>`,
    )
    .join('');
  const lines = series
    .map((s, i) => {
      const d = s.points.map(([px, py], j) => `${j ? 'L' : 'M'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`;
    })
    .join('');
  const legend = series
    .map((s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${htmlText(s.name)}</span>`)
    .join('');
  return `<svg width="${width}" height="${height}">${grid}${lines}<text x="${width - 10}" y="${height - 4}" text-anchor="end">${Math.round(maxX)} s</text></svg><div class="legend">${legend || '<span>no data</span>'}</div>`;
}
const htmlText = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

const dashboard = (await import('../ops/grafana/gateway.json', { with: { type: 'json' } })).default as Dashboard;
const panels = dashboard.panels
  .map((panel) => {
    const series = panel.targets.flatMap((target) => evaluate(target.expr, target.legendFormat));
    return `<section><h2>${htmlText(panel.title)}</h2>${chart(series, panel.fieldConfig.defaults.unit)}</section>`;
  })
  .join('');
const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;padding:12px;background:#111217;color:#ccccdc;font:12px system-ui,sans-serif}
h1{font-size:15px;margin:0 0 10px}main{display:grid;grid-template-columns:1fr 1fr;gap:10px}
section{background:#181b1f;border:1px solid #2c3235;padding:8px}h2{font-size:13px;margin:0 0 4px}
svg text{fill:#8e8e9e;font-size:10px}.legend{display:flex;flex-wrap:wrap;gap:4px 12px}
.legend i{display:inline-block;width:12px;height:3px;margin:0 4px 3px 0;vertical-align:middle}
</style><h1>${htmlText(dashboard.title)} — one simulated minute (rendered from ops/grafana/gateway.json)</h1><main>${panels}</main>`;

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await page.setContent(html);
  const out = join(ROOT, 'ops/grafana/gateway.png');
  writeFileSync(out, await page.screenshot({ fullPage: true }));
  console.log(`wrote ${out} from ${scrapes.length} scrapes`);
} finally {
  await browser.close();
}
