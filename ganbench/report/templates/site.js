// Sortable tables and the "≈" significance marks. Plain DOM, no libraries, works from file://.
(function () {
  "use strict";

  function compare(a, b) {
    // empty (n/a) sorts last whatever the direction is; numbers numerically, the rest as text
    const na = a === "" ? NaN : Number(a);
    const nb = b === "" ? NaN : Number(b);
    if (!isNaN(na) && !isNaN(nb)) return na - nb;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  const TITLES = {
    "": "",
    "≈": "not significantly different from the row above",
    "1 seed: ranking not tested": "one training seed: retraining could change its rank against the row above",
    "row above: 1 seed, not tested": "the row above has one training seed: retraining it could change the order"
  };

  function overlaps(a, b) {
    if (!a.dataset.ciLow || !b.dataset.ciLow) return false;
    return Number(a.dataset.ciLow) <= Number(b.dataset.ciHigh) && Number(b.dataset.ciLow) <= Number(a.dataset.ciHigh);
  }

  // The mark between two rows: a seeded row carries its own against every other row (the seeds' test, made
  // when the page was built); two plain rows compare their bootstrap intervals. An untested pair names its
  // one-seed row: the lower row says whether it is itself that row.
  function mark(above, row) {
    let m;
    if (row.dataset.marks) m = JSON.parse(row.dataset.marks)[above.dataset.index] || "";
    else if (above.dataset.marks) m = JSON.parse(above.dataset.marks)[row.dataset.index] || "";
    else m = overlaps(above, row) ? "≈" : "";
    return m === "1 seed: ranking not tested" && !("oneSeed" in row.dataset) ? "row above: 1 seed, not tested" : m;
  }

  // The marks compare each row with the one displayed above it; they mean something only in FID order.
  function markOverlaps(table, active) {
    const rows = Array.from(table.tBodies[0].rows);
    rows.forEach(function (row, i) {
      const cell = row.querySelector("td.sig");
      if (!cell) return;
      const m = active && i > 0 ? mark(rows[i - 1], row) : "";
      cell.textContent = m;
      cell.title = TITLES[m] || "";
    });
  }

  function sortBy(table, th) {
    const heads = Array.from(th.parentNode.cells);
    const idx = heads.indexOf(th);
    const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    const sign = dir === "ascending" ? 1 : -1;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort(function (r1, r2) {
      const a = r1.cells[idx].dataset.sort || "";
      const b = r2.cells[idx].dataset.sort || "";
      if ((a === "") !== (b === "")) return a === "" ? 1 : -1;
      return sign * compare(a, b) || Number(r1.dataset.index) - Number(r2.dataset.index);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    markOverlaps(table, th.dataset.key === "fid");
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th[data-key] button").forEach(function (button) {
      button.addEventListener("click", function () { sortBy(table, button.parentNode); });
    });
  });
})();
