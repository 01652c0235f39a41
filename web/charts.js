// Small SVG charts for the dashboard: bars and lines over time, horizontal bars and grouped
// horizontal bars, with the legend and data table that go with them. Built with createElementNS
// and textContent only, since labels come from the server. Sizes are CSS pixels: callers pass
// their container's width so 12px text stays 12px, and the viewBox lets the SVG shrink with it.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440]; // minutes between labels

  function svgEl(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function htmlEl(name, text, className) {
    const node = document.createElement(name);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  let context = null;
  // The width of a label in the charts' 12px font, so margins fit the labels actually shown.
  function textWidth(text) {
    if (!context) {
      context = document.createElement("canvas").getContext("2d");
      context.font = `12px ${getComputedStyle(document.body).fontFamily}`;
    }
    return context.measureText(text).width;
  }

  function missing(value) {
    return value === null || value === undefined;
  }

  function root(width, height, label) {
    return svgEl("svg", {
      viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart",
    });
  }

  // Local wall-clock time: the operator reads the page in their own time zone.
  function hhmm(date) {
    return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
  }

  // 1, 2 or 5 times a power of ten: tick values a reader can add up at a glance.
  function niceStep(raw) {
    const power = 10 ** Math.floor(Math.log10(raw));
    const unit = raw / power;
    return power * (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10);
  }

  // Ticks from 0 to a round top at or above `max`; whole steps for counts.
  function scaleTicks(max, count, integer) {
    let step = niceStep((max > 0 ? max : 1) / count);
    if (integer) step = Math.max(1, Math.round(step));
    const top = Math.max(step, Math.ceil(max / step) * step);
    const ticks = [];
    for (let i = 0; i * step <= top + step / 2; i += 1) ticks.push(i * step);
    return { top, ticks };
  }

  // The plot area of a chart over time: one band per point, bars and line points at its centre.
  function timeFrame(opts, scale) {
    const format = opts.yFormat || String;
    const widest = Math.max(...scale.ticks.map((t) => textWidth(format(t))));
    const box = { left: 12 + Math.ceil(widest), right: opts.width - 20, top: 10, bottom: opts.height - 24 };
    const band = (box.right - box.left) / Math.max(1, opts.times.length);
    return {
      box,
      band,
      x: (i) => box.left + band * (i + 0.5),
      y: (v) => box.bottom - (v / scale.top) * (box.bottom - box.top),
    };
  }

  function axes(svg, frame, opts, scale) {
    const { box } = frame;
    const format = opts.yFormat || String;
    const g = svgEl("g", { class: "axis" });
    for (const tick of scale.ticks) {
      const y = frame.y(tick);
      g.append(
        svgEl("line", { x1: box.left, x2: box.right, y1: y, y2: y, class: "grid" }),
        svgEl("text", { x: box.left - 6, y: y + 4, "text-anchor": "end" }, format(tick)),
      );
    }
    // Labels on round minutes (every 5, 15, 60 ... min), about one per 64px.
    const dates = opts.times.map((t) => new Date(t));
    const slots = Math.max(2, Math.floor((box.right - box.left) / 64));
    const step = TIME_STEPS.find((s) => s >= dates.length / slots) || 1440;
    dates.forEach((date, i) => {
      if ((date.getHours() * 60 + date.getMinutes()) % step) return;
      g.append(svgEl("text", { x: frame.x(i), y: box.bottom + 17, "text-anchor": "middle" }, hhmm(date)));
    });
    svg.append(g);
  }

  // Bars over time; several series stack (e.g. cache hits under the other turns).
  // opts: { width, height, times, series: [{ name, values }], label, yFormat }
  function bars(opts) {
    const totals = opts.times.map((_, i) => opts.series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
    const scale = scaleTicks(Math.max(0, ...totals), 4, true);
    const svg = root(opts.width, opts.height, opts.label);
    const frame = timeFrame(opts, scale);
    axes(svg, frame, opts, scale);
    const width = Math.max(1, frame.band * 0.8); // at least a pixel, or a busy minute vanishes
    opts.times.forEach((time, i) => {
      let base = 0;
      opts.series.forEach((series, k) => {
        const value = series.values[i] || 0;
        if (value <= 0) return;
        const top = frame.y(base + value);
        const rect = svgEl("rect", {
          x: frame.x(i) - width / 2, y: top, width, height: frame.y(base) - top, class: `series-${k}`,
        });
        rect.append(svgEl("title", {}, `${hhmm(new Date(time))} ${series.name}: ${value}`));
        svg.append(rect);
        base += value;
      });
    });
    return svg;
  }

  // Lines over time, broken where a value is null; a lone point between gaps gets a dot.
  // opts: { width, height, times, series: [{ name, values }], label, yMax, yFormat }
  function lines(opts) {
    const known = opts.series.flatMap((s) => s.values).filter((v) => !missing(v));
    const scale = scaleTicks(opts.yMax || Math.max(0, ...known), 4, false);
    const svg = root(opts.width, opts.height, opts.label);
    const frame = timeFrame(opts, scale);
    axes(svg, frame, opts, scale);
    opts.series.forEach((series, k) => {
      let path = "";
      series.values.forEach((value, i) => {
        if (missing(value)) return;
        const x = frame.x(i).toFixed(1);
        const y = frame.y(value).toFixed(1);
        const starts = i === 0 || missing(series.values[i - 1]);
        path += `${starts ? "M" : "L"}${x},${y}`;
        if (starts && missing(series.values[i + 1])) {
          svg.append(svgEl("circle", { cx: x, cy: y, r: 2.5, class: `dot series-${k}` }));
        }
      });
      svg.append(svgEl("path", { d: path, class: `line series-${k}` }));
    });
    return svg;
  }

  // A label cut to fit `width` px, with an ellipsis (the full text goes in its <title>).
  function clip(text, width) {
    let shown = text;
    while (shown.length > 1 && textWidth(shown) > width) shown = shown.slice(0, -2) + "…";
    return shown;
  }

  // Groups of horizontal bars on one scale: a label, then one bar per series with its text.
  // opts: { width, groups: [{ label, values, texts }], seriesCount, label }
  function groupedHbars(opts) {
    const count = opts.seriesCount || 1;
    const row = count > 1 ? 16 : 20; // grouped rows are tighter: the group's label spans them
    const gap = count > 1 ? 8 : 4;
    const texts = opts.groups.flatMap((g) => g.texts);
    const longest = Math.max(1, ...opts.groups.map((g) => textWidth(g.label)));
    const labelWidth = Math.min(opts.width * 0.4, 12 + Math.ceil(longest));
    const left = labelWidth;
    const right = opts.width - 12 - Math.max(1, ...texts.map(textWidth));
    const max = Math.max(0, ...opts.groups.flatMap((g) => g.values).filter((v) => !missing(v))) || 1;
    const height = opts.groups.length * (count * row + gap) + gap;
    const svg = root(opts.width, height, opts.label);
    opts.groups.forEach((group, gi) => {
      const y0 = gap + gi * (count * row + gap);
      const name = svgEl("text", {
        x: left - 8, y: y0 + (count * row) / 2 + 4, "text-anchor": "end", class: "label",
      }, clip(group.label, labelWidth - 12));
      name.append(svgEl("title", {}, group.label));
      svg.append(name);
      group.values.forEach((value, k) => {
        const width = missing(value) || value <= 0 ? 0 : Math.max(1, (value / max) * (right - left));
        const y = y0 + k * row;
        svg.append(
          svgEl("rect", { x: left, y: y + 3, width, height: row - 6, class: `series-${k}` }),
          svgEl("text", { x: left + width + 6, y: y + row / 2 + 4 }, group.texts[k]),
        );
      });
    });
    return svg;
  }

  // One bar per item. opts: { width, items: [{ label, value, text }], label }
  function hbars(opts) {
    return groupedHbars({
      width: opts.width,
      label: opts.label,
      groups: opts.items.map((item) => ({ label: item.label, values: [item.value], texts: [item.text] })),
    });
  }

  // Series names next to a swatch, so no series is told apart by its colour alone.
  function legend(names) {
    const list = htmlEl("ul", undefined, "legend");
    names.forEach((name, k) => {
      const item = htmlEl("li");
      const swatch = htmlEl("span", undefined, `swatch series-${k}`);
      swatch.setAttribute("aria-hidden", "true");
      item.append(swatch, name);
      list.append(item);
    });
    return list;
  }

  // The numbers behind a chart. head: column names; rows: arrays of cell texts.
  function table(head, rows) {
    const node = htmlEl("table");
    const headRow = htmlEl("tr");
    for (const name of head) {
      const th = htmlEl("th", name);
      th.scope = "col";
      headRow.append(th);
    }
    const body = htmlEl("tbody");
    for (const cells of rows) {
      const tr = htmlEl("tr");
      for (const text of cells) tr.append(htmlEl("td", String(text)));
      body.append(tr);
    }
    const thead = htmlEl("thead");
    thead.append(headRow);
    node.append(thead, body);
    return node;
  }

  window.CymbalCharts = Object.freeze({ bars, lines, hbars, groupedHbars, legend, table, hhmm });
})();
