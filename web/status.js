// Polls each function's /health and shows what it reports. Text only: nothing is parsed as HTML.
(function () {
  "use strict";
  const config = window.CYMBAL_CONFIG;
  const body = document.getElementById("functions");
  const updated = document.getElementById("updated");

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function describe(checks) {
    return Object.entries(checks || {})
      .map(([name, c]) => `${name}: ${c.ok ? "ok" : "failing"}${c.kind ? " (" + c.kind + ")" : ""}`)
      .join(", ");
  }

  async function probe(name, base) {
    try {
      const response = await fetch(`${base}/health`, { headers: { Accept: "application/json" } });
      const report = await response.json();
      return [name, report.status || "unknown", describe(report.checks)];
    } catch (error) {
      return [name, "unreachable", String(error.message || error)];
    }
  }

  async function refresh() {
    const rows = await Promise.all(
      Object.entries(config.functions).map(([name, base]) => probe(name, base)),
    );
    body.replaceChildren(
      ...rows.map(([name, status, checks]) => {
        const tr = document.createElement("tr");
        tr.append(cell(name), cell(status, `status-${status}`), cell(checks));
        return tr;
      }),
    );
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  refresh();
  setInterval(refresh, 10000);
})();
