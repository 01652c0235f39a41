// The operator dashboard: polls {metrics}/summary and shows it as tiles, SVG charts and tables.
// Text only: intent names and error messages come from the server and are never parsed as HTML.
(function () {
  "use strict";
  const charts = window.CymbalCharts;
  const config = window.CYMBAL_CONFIG || {};
  const TIMEOUT_MS = 10000;
  const STAGES = ["embed", "route", "search", "cache", "generate", "persist"]; // pipeline order
  const UNREACHABLE = "The metrics function could not be reached.";
  const TIMED_OUT = "The metrics function did not answer within 10 seconds.";
  const UNREADABLE = "The metrics function sent an answer this page cannot read.";
  const EMPTY = "No turns in this window.";
  const CHART_HEIGHT = 200;

  const $ = (id) => document.getElementById(id);
  const state = {
    minutes: 60, refreshSeconds: 10, inFlight: false, controller: null, summary: null, width: 0,
  };

  // An integer within [min, max] from the URL or the config, else null (so the next source wins).
  function bounded(raw, min, max) {
    const text = String(raw ?? "");
    if (!/^\d+$/.test(text)) return null;
    const value = Number(text);
    return value >= min && value <= max ? value : null;
  }

  function settings() {
    const configured = config.dashboard || {};
    const query = new URLSearchParams(window.location.search);
    return {
      minutes: bounded(query.get("minutes"), 1, 1440) ?? bounded(configured.minutes, 1, 1440) ?? 60,
      refreshSeconds:
        bounded(query.get("refresh"), 1, 3600) ?? bounded(configured.refreshSeconds, 1, 3600) ?? 10,
    };
  }

  const missing = (value) => value === null || value === undefined;
  const count = (value) => (missing(value) ? "—" : Number(value).toLocaleString("en-US"));
  const percent = (rate) => (missing(rate) ? "—" : `${Math.round(rate * 1000) / 10}%`);
  const total = (map) => Object.values(map || {}).reduce((sum, n) => sum + (Number(n) || 0), 0);
  const time = (iso) => charts.hhmm(new Date(iso));
  const windowLabel = (minutes) => (minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`);

  // Milliseconds: one decimal below 10 ms, where a decimal still means something.
  function ms(value, unit = " ms") {
    if (missing(value)) return "—";
    return `${value < 10 ? Math.round(value * 10) / 10 : Math.round(value)}${unit}`;
  }

  function setFigure(id, value, text) {
    const node = $(id);
    node.dataset.value = missing(value) ? "" : String(value);
    node.textContent = text;
  }

  function renderTiles(summary) {
    const latency = summary.latency_ms || {};
    setFigure("turns-total", summary.turns, count(summary.turns));
    setFigure("cache-hit-rate", summary.cache_hit_rate, percent(summary.cache_hit_rate));
    setFigure("latency-p50", latency.p50, ms(latency.p50));
    setFigure("latency-p95", latency.p95, ms(latency.p95));
    setFigure("fallbacks-total", total(summary.fallbacks), count(total(summary.fallbacks)));
    setFigure("errors-total", total(summary.errors), count(total(summary.errors)));
  }

  function paragraph(text, className) {
    const node = document.createElement("p");
    node.className = className;
    node.textContent = text;
    return node;
  }
  const emptyNote = (text = EMPTY) => paragraph(text, "empty muted");

  // Each chart: the nodes shown in the figure (legend, SVG or a note) and the table behind them.
  function turnsChart(summary, width) {
    const points = summary.series;
    const hits = points.map((p) => p.cache_hits || 0);
    const fresh = points.map((p, i) => Math.max(0, (p.turns || 0) - hits[i]));
    const names = ["Cache hits", "Not from cache"];
    const busiest = Math.max(0, ...points.map((p) => p.turns || 0));
    const label =
      `Turns per minute over the last ${windowLabel(points.length)}: ${summary.turns} in total, ` +
      `${summary.cache_hits} from the cache, at most ${busiest} in one minute.`;
    const svg = charts.bars({
      width, height: CHART_HEIGHT, label, times: points.map((p) => p.minute),
      series: [{ name: names[0], values: hits }, { name: names[1], values: fresh }],
    });
    return {
      nodes: summary.turns ? [charts.legend(names), svg] : [emptyNote()],
      table: charts.table(["Time", "Turns", "Cache hits"],
        points.map((p) => [time(p.minute), p.turns, p.cache_hits])),
    };
  }

  function cacheChart(summary, width) {
    const points = summary.series;
    const rates = points.map((p) => (p.turns ? (100 * (p.cache_hits || 0)) / p.turns : null));
    const label =
      `Cache hit rate per minute, 0 to 100%: ${percent(summary.cache_hit_rate)} over the window, ` +
      `best minute ${Math.round(Math.max(0, ...rates.filter((r) => !missing(r))))}%.`;
    const svg = charts.lines({
      width, height: CHART_HEIGHT, label, yMax: 100, yFormat: (v) => `${v}%`,
      times: points.map((p) => p.minute), series: [{ name: "Hit rate", values: rates }],
    });
    return {
      nodes: summary.turns ? [svg] : [emptyNote()],
      table: charts.table(["Time", "Turns", "Cache hits", "Hit rate"], points.map((p, i) =>
        [time(p.minute), p.turns, p.cache_hits, missing(rates[i]) ? "—" : percent(rates[i] / 100)])),
    };
  }

  function latencyChart(summary, width) {
    const points = summary.series;
    const names = ["p50", "p95"];
    const latency = summary.latency_ms || {};
    const slowest = Math.max(0, ...points.map((p) => p.p95_ms || 0));
    const label =
      `Latency per minute in milliseconds: p50 ${ms(latency.p50)} and p95 ${ms(latency.p95)} ` +
      `over the window; slowest minute p95 ${ms(slowest)}.`;
    const svg = charts.lines({
      width, height: CHART_HEIGHT, label, yFormat: (v) => ms(v, ""), times: points.map((p) => p.minute),
      series: [{ name: names[0], values: points.map((p) => p.p50_ms) },
        { name: names[1], values: points.map((p) => p.p95_ms) }],
    });
    return {
      nodes: summary.turns ? [charts.legend(names.map((n) => `${n} (ms)`)), svg] : [emptyNote()],
      table: charts.table(["Time", "p50 (ms)", "p95 (ms)"],
        points.map((p) => [time(p.minute), ms(p.p50_ms, ""), ms(p.p95_ms, "")])),
    };
  }

  // Known stages in pipeline order, any new ones after them, and the total last.
  function stageOrder(stages) {
    const names = Object.keys(stages).filter((name) => name !== "total");
    const known = STAGES.filter((name) => names.includes(name));
    const extra = names.filter((name) => !STAGES.includes(name)).sort();
    return [...known, ...extra, ...("total" in stages ? ["total"] : [])];
  }

  function stagesChart(summary, width) {
    const stages = summary.stages_ms || {};
    const groups = stageOrder(stages).map((name) => {
      const { p50, p95 } = stages[name] || {};
      return { label: name, values: [p50, p95], texts: [ms(p50), ms(p95)] };
    });
    const label = `Latency by stage, p50 and p95: ${groups
      .map((g) => `${g.label} ${g.texts[0]} and ${g.texts[1]}`).join(", ")}.`;
    const svg = charts.groupedHbars({ width, groups, seriesCount: 2, label });
    return {
      nodes: groups.length ? [charts.legend(["p50", "p95"]), svg] : [emptyNote()],
      table: charts.table(["Stage", "p50 (ms)", "p95 (ms)"],
        groups.map((g) => [g.label, ms(g.values[0], ""), ms(g.values[1], "")])),
    };
  }

  // Name/count pairs, largest first, with each one's share of their sum.
  function ranked(map) {
    const sum = total(map);
    return Object.entries(map || {})
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([name, n]) => ({ label: name, value: n, share: sum ? n / sum : 0 }));
  }

  function intentsChart(summary, width) {
    const items = ranked(summary.by_intent).map((item) => ({
      ...item, text: `${count(item.value)} (${percent(item.share)})`,
    }));
    const label = `Intent mix: ${items.map((i) => `${i.label} ${i.text}`).join(", ")}.`;
    return {
      nodes: items.length ? [charts.hbars({ width, items, label })] : [emptyNote()],
      table: charts.table(["Intent", "Turns", "Share"],
        items.map((i) => [i.label, i.value, percent(i.share)])),
    };
  }

  // Fallbacks and errors share a figure: both are counts by kind, and both are usually "none".
  function countsPart(title, map, width) {
    const items = ranked(map).map((item) => ({ ...item, text: count(item.value) }));
    const label = `${title}: ${items.map((i) => `${i.label} ${i.text}`).join(", ")}.`;
    const chart = items.length ? charts.hbars({ width, items, label }) : emptyNote("none");
    return { items, nodes: [paragraph(title, "chart-part"), chart] };
  }

  function fallbacksChart(summary, width) {
    const fallbacks = countsPart("Fallbacks by rung", summary.fallbacks, width);
    const errors = countsPart("Errors by kind", summary.errors, width);
    const rows = [...fallbacks.items.map((i) => ["Fallback", i.label, i.value]),
      ...errors.items.map((i) => ["Error", i.label, i.value])];
    const table = charts.table(["Type", "Name", "Count"], rows);
    return { nodes: [...fallbacks.nodes, ...errors.nodes], table };
  }

  const CHARTS = {
    turns: turnsChart, cache: cacheChart, latency: latencyChart,
    stages: stagesChart, intents: intentsChart, fallbacks: fallbacksChart,
  };

  // Charts are drawn at their container's pixel width, so text keeps its size on a phone.
  function renderCharts(summary) {
    state.width = $("charts").clientWidth;
    for (const figure of document.querySelectorAll("figure[data-chart]")) {
      const body = figure.querySelector(".chart-body");
      const width = Math.max(240, Math.floor(body.clientWidth) || 600);
      const { nodes, table } = CHARTS[figure.dataset.chart](summary, width);
      body.replaceChildren(...nodes);
      figure.querySelector(".table-wrap").replaceChildren(table);
    }
  }

  function showSummary(summary) {
    state.summary = summary;
    renderTiles(summary);
    renderCharts(summary);
    $("dashboard-error").hidden = true;
    $("dashboard-empty").hidden = summary.turns > 0;
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString("en-GB", { hour12: false })}`;
    document.body.dataset.state = "ready";
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  // The last good charts stay; the alert is only rewritten when its text changes, so a screen
  // reader does not announce the same failure on every tick.
  function showError(message) {
    const box = $("dashboard-error");
    if (box.hidden || box.textContent !== message) box.textContent = message;
    box.hidden = false;
    if (!state.summary) $("updated").textContent = "Not loaded yet: retrying.";
    document.body.dataset.state = "error";
  }

  // Resolves to { summary } or { message }; never rejects.
  async function fetchSummary(minutes) {
    const controller = new AbortController();
    state.controller = controller;
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(`${config.functions.metrics}/summary?minutes=${minutes}`, {
        headers: { Accept: "application/json" }, cache: "no-store", signal: controller.signal,
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        const message = body && body.error && body.error.message;
        return { message: String(message || `The metrics function answered ${response.status}.`) };
      }
      return body && Array.isArray(body.series) ? { summary: body } : { message: UNREADABLE };
    } catch (error) {
      return { message: error.name === "AbortError" ? TIMED_OUT : UNREACHABLE };
    } finally {
      clearTimeout(timer);
    }
  }

  // One request at a time. An answer for a window the operator has since changed is dropped and
  // the new window fetched at once.
  async function refresh() {
    if (state.inFlight) return;
    state.inFlight = true;
    const minutes = state.minutes;
    const result = await fetchSummary(minutes);
    state.inFlight = false;
    if (minutes !== state.minutes) return refresh();
    try {
      return result.summary ? showSummary(result.summary) : showError(result.message);
    } catch {
      return showError(UNREADABLE); // a summary shaped unlike the one this page knows
    }
  }

  // The configured window stays selectable even when it is not one of the presets.
  function setupWindow() {
    const select = $("window");
    const options = [...select.options];
    if (!options.some((o) => Number(o.value) === state.minutes)) {
      const before = options.find((o) => Number(o.value) > state.minutes) || null;
      select.add(new Option(windowLabel(state.minutes), String(state.minutes)), before);
    }
    select.value = String(state.minutes);
    select.addEventListener("change", () => {
      state.minutes = Number(select.value);
      // The old window's request is dropped at once (its answer would be), not waited for.
      if (state.inFlight && state.controller) state.controller.abort();
      refresh();
    });
  }

  // Redraw (without fetching) when the layout width changes, e.g. a phone turned sideways.
  function watchWidth() {
    const grid = $("charts");
    let frame = 0;
    new ResizeObserver(() => {
      const width = grid.clientWidth;
      if (width === state.width || !state.summary) return;
      state.width = width;
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => renderCharts(state.summary));
    }).observe(grid);
  }

  function start() {
    Object.assign(state, settings());
    setupWindow();
    $("refresh").addEventListener("click", () => refresh());
    // A hidden tab does not poll; coming back shows fresh figures straight away.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") refresh();
    });
    setInterval(() => {
      if (document.visibilityState !== "hidden") refresh();
    }, state.refreshSeconds * 1000);
    watchWidth();
    refresh();
  }

  start();
})();
