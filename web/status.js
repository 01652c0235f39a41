// Polls each function's health and shows what it reports: the details where the function serves
// them (the local stack; deployed functions only to operators), else the public status alone.
// Text only: nothing is parsed as HTML.
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
      const headers = { Accept: "application/json" };
      let response = await fetch(`${base}/health/details`, { headers });
      if (response.status === 404) response = await fetch(`${base}/health`, { headers });
      const report = await response.json();
      const checks = report.checks ? describe(report.checks) : "details are for operators";
      return [name, report.status || "unknown", checks];
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
