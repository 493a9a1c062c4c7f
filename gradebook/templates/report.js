/* The report's tables: sort (click a header), page and filter; without it every row shows. */
(function () {
  "use strict";
  function pager(box) {
    var size = parseInt(box.getAttribute("data-page-size"), 10) || 50;
    var table = box.querySelector("table");
    var body = table ? table.tBodies[0] : box.querySelector("ol");
    var items = Array.prototype.slice.call(body.children);
    var info = box.querySelector(".info"), prev = box.querySelector(".prev");
    var next = box.querySelector(".next"), search = box.querySelector("input");
    var page = 0, query = "";
    function shown() {
      if (!query) return items;
      return items.filter(function (r) {
        return r.textContent.toLowerCase().indexOf(query) >= 0;
      });
    }
    function render() {
      var rows = shown(), pages = Math.max(1, Math.ceil(rows.length / size));
      page = Math.min(Math.max(page, 0), pages - 1);
      var first = page * size, last = Math.min(rows.length, first + size);
      items.forEach(function (r) { r.hidden = true; });
      rows.slice(first, last).forEach(function (r) { r.hidden = false; });
      if (info) {
        info.textContent = (rows.length ? "rows " + (first + 1) + "\u2013" + last + " of " +
          rows.length : "no matching rows") + (query ? " (of " + items.length + ")" : "");
      }
      if (prev) prev.disabled = page <= 0;
      if (next) next.disabled = page >= pages - 1;
      if (body.parentNode && body.parentNode.parentNode) {
        var scroller = box.querySelector(".scroll");
        if (scroller) scroller.scrollTop = 0;
      }
    }
    function sortBy(index, th) {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      var numeric = th.classList.contains("num");
      table.querySelectorAll("thead th").forEach(function (h) {
        h.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      function key(row) {
        var cell = row.cells[index];
        var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
        return numeric ? parseFloat(v) : v.toLowerCase();
      }
      var keyed = items.map(function (r, i) { return [key(r), i, r]; });
      keyed.sort(function (a, b) {
        var x = a[0], y = b[0], order;
        if (numeric && (isNaN(x) || isNaN(y))) {
          order = isNaN(x) ? (isNaN(y) ? 0 : 1) : -1;  /* blanks last either way */
          return order || a[1] - b[1];
        }
        order = x < y ? -1 : x > y ? 1 : 0;
        return (ascending ? order : -order) || a[1] - b[1];
      });
      items = keyed.map(function (k) { return k[2]; });
      items.forEach(function (r) { body.appendChild(r); });
      page = 0;
      render();
    }
    if (prev) prev.addEventListener("click", function () { page -= 1; render(); });
    if (next) next.addEventListener("click", function () { page += 1; render(); });
    if (search) search.addEventListener("input", function () {
      query = search.value.trim().toLowerCase();
      page = 0;
      render();
    });
    if (table) {
      table.querySelectorAll("thead th").forEach(function (th, i) {
        th.tabIndex = 0;
        th.title = "Sort by " + th.textContent;
        th.addEventListener("click", function () { sortBy(i, th); });
        th.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(i, th); }
        });
      });
    }
    render();
  }
  document.querySelectorAll("[data-pager]").forEach(pager);
})();
