/**
 * The operators' dashboard (ops/grafana/gateway.json) and alert rules (ops/prometheus/alerts.yml)
 * read metrics a real gateway serves: each name in their expressions is in /metrics, scraped over
 * the socket after a job ran, and the rules parse as Prometheus rules. The metrics they are built on
 * (loops, spend against the budgets) say what they should.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { eventually, gatewayFixture, ONE_BACKEND } from './support/gateway.ts';
import { metric, parseMetrics } from './support/metrics.ts';
import { promqlMetricNames } from './support/promql.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const Dashboard = z.object({
  title: z.string(),
  panels: z
    .array(
      z.object({
        title: z.string(),
        type: z.string(),
        gridPos: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
        targets: z.array(z.object({ refId: z.string(), expr: z.string().min(1) })).min(1),
      }),
    )
    .min(1),
});
const Rules = z.object({
  groups: z
    .array(
      z.object({
        name: z.string(),
        rules: z
          .array(
            z.strictObject({
              alert: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/),
              expr: z.string().min(1),
              for: z
                .string()
                .regex(/^\d+[smhd]$/)
                .optional(),
              labels: z.object({ severity: z.enum(['page', 'warn', 'info']) }),
              annotations: z.object({ summary: z.string(), description: z.string() }),
            }),
          )
          .min(1),
      }),
    )
    .min(1),
});

const dashboard = Dashboard.parse(JSON.parse(readFileSync(`${ROOT}/ops/grafana/gateway.json`, 'utf8')));
const rules = Rules.parse(parseYaml(readFileSync(`${ROOT}/ops/prometheus/alerts.yml`, 'utf8')));
const panelExprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
const ruleExprs = rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));

/** Every metric name a scrape shows: its samples', and each declared family (a histogram's parts too). */
function exposedNames(text: string): Set<string> {
  const names = new Set(parseMetrics(text).map((sample) => sample.name));
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const part of ['_bucket', '_count', '_sum']) names.add(`${name}${part}`);
  }
  return names;
}

describe('the dashboard and the alert rules', () => {
  const t = gatewayFixture(ONE_BACKEND, {
    AUTH_MODE: 'none',
    LIMIT_DAILY_SPEND_USD_TOTAL: '100',
    LIMIT_DAILY_SPEND_USD: '10',
  });
  const scrape = async () => (await fetch(new URL('/metrics', t.gw.url))).text();

  it('read only metrics a running gateway serves', async () => {
    const reply = await t.gw.request('mutation { generateVideo(input: { prompt: "a horse" }) { prediction { id } } }');
    expect(reply.errors).toBeUndefined();
    const text = await eventually(
      scrape,
      (later) => metric(later, 'gateway_jobs_finished_total', { status: 'SUCCEEDED' }) === 1,
      20_000,
    );
    const exposed = exposedNames(text);
    const used = [...new Set([...panelExprs, ...ruleExprs].flatMap(promqlMetricNames))];
    expect(used.filter((name) => !exposed.has(name))).toEqual([]);

    // What operators asked to see, each in the dashboard and alerted on where it can go wrong.
    const dashboardNames = new Set(panelExprs.flatMap(promqlMetricNames));
    for (const name of [
      'gateway_jobs_finished_total',
      'gateway_unfinished_jobs',
      'gateway_poll_lag_seconds_bucket',
      'gateway_poll_overdue_seconds',
      'gateway_loop_seconds_since_cycle',
      'gateway_upstream_request_duration_seconds_count',
      'gateway_spend_today_usd',
      'gateway_daily_budget_usd',
      'gateway_subscription_streams_open',
    ])
      expect(dashboardNames, name).toContain(name);
    const ruleNames = new Set(ruleExprs.flatMap(promqlMetricNames));
    for (const name of [
      'gateway_poll_overdue_seconds',
      'gateway_poll_lag_seconds_bucket',
      'gateway_loop_seconds_since_cycle',
      'gateway_upstream_request_duration_seconds_count',
      'gateway_spend_today_usd',
    ])
      expect(ruleNames, name).toContain(name);
  });

  it("serve the day's spend against the budgets, and each loop's time since its last cycle", async () => {
    const text = await scrape();
    // One job of the default price ran (the test before), by the one anonymous caller.
    expect(metric(text, 'gateway_spend_today_usd')).toBeCloseTo(0.14, 6);
    expect(metric(text, 'gateway_spend_today_top_caller_usd')).toBeCloseTo(0.14, 6);
    expect(metric(text, 'gateway_daily_budget_usd', { scope: 'total' })).toBe(100);
    expect(metric(text, 'gateway_daily_budget_usd', { scope: 'per_caller' })).toBe(10);
    for (const loop of ['poller', 'copier', 'upload sweeper']) {
      const since = metric(text, 'gateway_loop_seconds_since_cycle', { loop });
      const staleAfter = metric(text, 'gateway_loop_stale_after_seconds', { loop });
      expect(since, loop).toBeGreaterThanOrEqual(0);
      // Running: well within its allowance, so the GatewayLoopStopped rule is quiet.
      expect(since!, loop).toBeLessThan(staleAfter!);
    }
  });

  it('name their panels and rules, and every rule says what to do', () => {
    expect(dashboard.panels.map((panel) => panel.title)).toEqual([
      'Jobs by status',
      'Poll lag and overdue polls',
      'Background loops: time since last cycle',
      'Upstream errors by status',
      'Spend today against the daily budgets',
      'Open streams',
    ]);
    expect(rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert))).toContain('GatewayLoopStopped');
  });
});
