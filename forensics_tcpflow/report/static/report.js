// The case page's tables: rows arrive in pages (report_files/<kind>-NNNNN.js, each calling ftfData),
// are kept as arrays, filtered and sorted in memory, and only one screen of rows is in the DOM.
// Every value from the evidence goes into the page as text (textContent), never as markup.
"use strict";
(function () {
  const manifest = JSON.parse(document.getElementById("ftf-manifest").textContent);
  const SCREEN = 100;                     // rows in the DOM at once
  const tables = {};
  window.ftf = { tables: tables, firstRender: null };

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function href(path) {                   // a report-relative file name as a URL path, every byte literal
    return path.split("/").map(encodeURIComponent).join("/");
  }

  function link(path, label) {
    if (!path) return el("span", "(no file)", "muted");
    const a = el("a", label || path.split("/").pop());
    a.href = href(path);
    a.title = path;
    return a;
  }

  class Table {
    constructor(kind, spec) {
      this.kind = kind;
      this.spec = spec;                   // {columns: [{name, label, type}], pages, rows, folder}
      this.rows = [];
      this.view = [];
      this.order = null;                  // [column index, +1 | -1]
      this.page = 0;
      this.loaded = 0;
      this.root = document.getElementById(kind + "-table");
      this.status = document.getElementById(kind + "-status");
      this.filters = {};
      for (const name of ["address", "port", "text"]) {
        const input = document.getElementById(kind + "-" + name);
        if (input) {
          this.filters[name] = input;
          for (const event of ["input", "change", "search"]) input.addEventListener(event, () => this.later());
        }
      }
      this.col = {};
      spec.columns.forEach((c, i) => { this.col[c.name] = i; });
      this.build();
    }

    build() {
      const table = el("table", null, "grid");
      const head = el("tr");
      this.spec.columns.forEach((c, i) => {
        if (c.hidden) return;
        const th = el("th", c.label);
        th.dataset.column = c.name;
        th.title = "sort by " + c.label;
        th.addEventListener("click", () => this.sortBy(i));
        head.appendChild(th);
      });
      table.appendChild(el("thead")).appendChild(head);
      this.body = table.appendChild(el("tbody"));
      const pager = el("div", null, "pager");
      this.prev = pager.appendChild(el("button", "previous"));
      this.where = pager.appendChild(el("span"));
      this.next = pager.appendChild(el("button", "next"));
      this.prev.addEventListener("click", () => this.show(this.page - 1));
      this.next.addEventListener("click", () => this.show(this.page + 1));
      this.root.appendChild(table);
      this.root.appendChild(pager);
    }

    add(rows) {
      // Only the new rows are filtered (and the view re-sorted if a sort is on): the screen stays where it is.
      const tests = this.match();
      for (const row of rows) {
        if (tests.every(t => t(row))) this.view.push(this.rows.length);
        this.rows.push(row);
      }
      this.loaded += 1;
      if (this.order) this.sortView();
      this.show(this.page);
    }

    later() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.apply(true), 120);
    }

    match() {
      const address = (this.filters.address && this.filters.address.value.trim()) || "";
      const portText = (this.filters.port && this.filters.port.value.trim()) || "";
      const text = ((this.filters.text && this.filters.text.value) || "").trim().toLowerCase();
      const port = portText === "" ? null : Number(portText);
      const c = this.col;
      const tests = [];
      if (address) tests.push(r => r[c.src].includes(address) || r[c.dst].includes(address));
      if (port !== null) tests.push(r => r[c.sport] === port || r[c.dport] === port);
      if (text) tests.push(r => r.some(v => v !== null && String(v).toLowerCase().includes(text)));
      return tests;
    }

    apply(reset) {
      const tests = this.match();
      const view = [];
      for (let i = 0; i < this.rows.length; i++) {
        const r = this.rows[i];
        if (tests.every(t => t(r))) view.push(i);
      }
      this.view = view;
      if (this.order) this.sortView();
      this.show(reset ? 0 : this.page);
    }

    sortBy(index) {
      this.order = this.order && this.order[0] === index ? [index, -this.order[1]] : [index, this.spec.columns[index].type === "num" ? -1 : 1];
      this.sortView();
      this.show(0);
    }

    sortView() {
      const [index, sign] = this.order;
      const rows = this.rows;
      this.view.sort((a, b) => {
        const x = rows[a][index], y = rows[b][index];
        return (x < y ? -sign : x > y ? sign : a - b);
      });
      this.root.querySelectorAll("th").forEach(th => {
        const active = th.dataset.column === this.spec.columns[index].name;
        th.className = active ? (sign > 0 ? "asc" : "desc") : "";
      });
    }

    show(page) {
      const pages = Math.max(1, Math.ceil(this.view.length / SCREEN));
      this.page = Math.min(Math.max(0, page), pages - 1);
      const start = this.page * SCREEN;
      const body = el("tbody");
      for (const index of this.view.slice(start, start + SCREEN)) body.appendChild(this.tr(this.rows[index]));
      this.body.replaceWith(body);
      this.body = body;
      const complete = this.loaded >= this.spec.pages;
      this.root.dataset.rows = String(this.view.length);
      this.root.dataset.loaded = complete ? "true" : "false";
      this.where.textContent = this.view.length ? `rows ${start + 1}–${Math.min(start + SCREEN, this.view.length)} of ${this.view.length}` : "no rows";
      this.prev.disabled = this.page === 0;
      this.next.disabled = this.page >= pages - 1;
      if (this.status) {
        this.status.textContent = `${this.view.length} of ${this.rows.length} rows` +
          (complete ? "" : ` (loading: ${this.rows.length} of ${this.spec.rows})`);
      }
      if (this.kind === "flows" && window.ftf.firstRender === null && this.view.length) {
        window.ftf.firstRender = performance.now();
      }
    }

    tr(row) {
      const tr = el("tr");
      this.spec.columns.forEach((c, i) => {
        if (c.hidden) return;
        const v = row[i];
        const td = c.type === "link" ? el("td") : el("td", v, c.type === "num" ? "num" : c.type === "hash" ? "hash" : "");
        if (c.type === "link") td.appendChild(link(v));
        if (c.name === "bytes" && row[this.col.holes] > 0) td.classList.add("bad");
        tr.appendChild(td);
      });
      if (this.kind === "flows") tr.addEventListener("click", (event) => { if (event.target.tagName !== "A") detail(this, row); });
      return tr;
    }
  }

  function detail(table, row) {
    // Both directions of the connection side by side (same capture and connection id).
    const c = table.col;
    const both = table.rows.filter(r => r[c.connection] === row[c.connection]);
    both.sort((a, b) => (a[c.direction] === "server-to-client") - (b[c.direction] === "server-to-client"));
    const box = document.getElementById("flows-detail");
    box.replaceChildren(el("h3", `connection ${row[c.connection]}: ${both.length} direction(s)`));
    const sides = box.appendChild(el("div", null, "sides"));
    for (const r of both) {
      const side = sides.appendChild(el("table", null, "facts"));
      table.spec.columns.forEach((col, i) => {
        const tr = side.appendChild(el("tr"));
        tr.appendChild(el("th", col.label));
        const td = tr.appendChild(el("td"));
        if (col.type === "link") td.appendChild(link(r[i], r[i])); else td.textContent = r[i] === null ? "" : String(r[i]);
      });
    }
    box.scrollIntoView({ block: "nearest" });
  }

  // Each data page calls ftfData(kind, number, rows) when its script has run; the next page loads after it.
  window.ftfData = function (kind, number, rows) {
    tables[kind].add(rows);
  };

  function load(kind, number) {
    const spec = manifest[kind];
    if (number >= spec.pages) return;
    const script = document.createElement("script");
    script.src = `${manifest.folder}/${kind}-${String(number).padStart(5, "0")}.js`;
    script.onload = () => { script.remove(); setTimeout(() => load(kind, number + 1), 0); };
    script.onerror = () => { tables[kind].status.textContent = "could not load " + script.src; };
    document.body.appendChild(script);
  }

  for (const kind of ["flows", "bodies"]) {
    if (manifest[kind] && document.getElementById(kind + "-table")) {
      tables[kind] = new Table(kind, manifest[kind]);
      if (manifest[kind].pages === 0) tables[kind].apply(true);
      load(kind, 0);
    }
  }
})();
