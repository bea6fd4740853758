// The job coach's page: draws the floor's tiles and a cell's view from the server's JSON,
// kept live by server-sent events. No libraries: the shop floor is offline.
"use strict";
const Coach = (() => {
  const csrf = () => document.querySelector('meta[name="csrf"]').content;
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  const mmss = (s) => { s = Math.max(0, Math.round(s)); const m = Math.floor(s / 60); return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m}:${String(s % 60).padStart(2, "0")}`; };
  const clock = (t) => new Date(t * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});

  async function act(cell, what, button) {
    if (button) button.disabled = true;
    try {
      const r = await fetch(`/api/cell/${encodeURIComponent(cell)}/${what}`, {method: "POST", headers: {"X-CSRF-Token": csrf()}});
      if (!r.ok) { const j = await r.json().catch(() => ({detail: r.statusText})); alert(j.detail || r.statusText); if (r.status === 401) location.href = "/login"; }
    } finally { if (button) button.disabled = false; }
  }

  function button(label, cls, cell, what) {
    const b = el("button", "btn big " + cls, label);
    b.type = "button";
    b.addEventListener("click", (ev) => { ev.preventDefault(); ev.stopPropagation(); act(cell, what, b); });
    return b;
  }

  function tile(t, linked) {
    const card = el(linked ? "a" : "div", "tile");
    if (linked) card.href = `/cell/${encodeURIComponent(t.id)}`;
    card.dataset.cell = t.id;
    if (t.help) card.classList.add("help");
    else if (t.faults.length || t.paused) card.classList.add("fault");
    if (!t.heard) card.classList.add("silent");
    const head = el("div", "head");
    head.append(el("span", "name", t.name), el("span", "who " + (t.who || "none"), t.who === "cobot" ? "cobot" : (t.who ? "operator" : "")));
    card.append(head);
    card.append(el("div", "operator", t.operator));
    if (t.help) {
      const h = el("div", "call");
      h.append(el("div", "callhead", `Help wanted - waiting ${mmss(t.help.waiting_s)}`));
      if (t.help.step) h.append(el("div", "", `at: ${t.help.step}`));
      if (t.help.coming) h.append(el("div", "coming", `${t.help.coming} is on the way`));
      const row = el("div", "actions");
      if (!t.help.coming) row.append(button("On my way", "primary", t.id, "help/ack"));
      row.append(button("Resolved", "", t.id, "help/resolve"));
      h.append(row);
      card.append(h);
    }
    for (const f of t.faults) {
      const fe = el("div", "faultline", `${f.component}: ${f.text}`);
      if (f.waiting_s) fe.append(el("span", "muted", ` (${mmss(f.waiting_s)})`));
      card.append(fe);
    }
    if (t.paused) {
      const p = el("div", "paused");
      p.append(el("span", "", `Paused: ${t.paused}`));
      p.append(button("Resume", "", t.id, "resume"));
      card.append(p);
    }
    card.append(el("div", "task", t.task || "no work order"));
    card.append(el("div", "step", t.step ? `${t.step_no}: ${t.step}` : ""));
    if (t.cobot) card.append(el("div", "cobotline", `cobot meanwhile: ${t.cobot}`));
    const bar = el("div", "bar"); const fill = el("span"); fill.style.width = `${Math.round(t.progress * 100)}%`; bar.append(fill);
    card.append(bar);
    card.append(el("div", "units muted", `${t.units}${t.orders_done ? ` - ${t.orders_done} order(s) done` : ""}`));
    if (t.load) card.append(el("div", "load", t.load));
    return card;
  }

  function live(url, draw) {
    const off = document.getElementById("offline");
    const src = new EventSource(url);
    src.onmessage = (ev) => { off.hidden = true; draw(JSON.parse(ev.data)); };
    src.addEventListener("logout", () => { src.close(); location.href = "/login"; });
    src.onerror = () => { off.hidden = false; };
  }

  function initial() { return JSON.parse(document.getElementById("initial").textContent); }

  function floor() {
    const box = document.getElementById("tiles");
    const draw = (d) => { box.replaceChildren(...d.tiles.map((t) => tile(t, true))); };
    draw(initial());
    live("/events/floor", draw);
  }

  function spark(svg, series, max, now) {
    svg.replaceChildren();
    if (!series || series.length < 2) { svg.append(Object.assign(document.createElementNS("http://www.w3.org/2000/svg", "text"), {textContent: ""})); return; }
    const t0 = series[0][0], t1 = series[series.length - 1][0] || t0 + 1;
    const pts = series.map(([t, v]) => `${((t - t0) / Math.max(1, t1 - t0) * 300).toFixed(1)},${(58 - Math.min(v, max) / max * 56).toFixed(1)}`).join(" ");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", pts); line.setAttribute("class", "line");
    svg.append(line);
  }

  function cell(id) {
    const img = document.getElementById("bench");
    let shown = -1;
    const draw = (d) => {
      document.getElementById("summary").replaceChildren(tile(d, false));
      if (d.version !== shown) { shown = d.version; img.src = `/cell/${encodeURIComponent(id)}/bench.png?v=${d.version}`; }
      const list = (box, items, fn) => document.getElementById(box).replaceChildren(...items.map(fn));
      list("events", d.events.slice(0, 15), (e) => { const li = el("li"); li.append(el("span", "time", clock(e.t)), el("span", "", e.text)); return li; });
      list("allocations", d.allocations.slice(0, 8), (a) => { const li = el("li"); li.append(el("span", "time", clock(a.t)), el("b", "", `${a.step} -> ${a.who}`), el("span", "muted", ` ${a.reason}`)); return li; });
      list("nodes", d.nodes, (n) => el("span", "node" + (n.age_s > 3 ? " stale" : ""), `${n.name}${n.simulated && !/simulated/.test(n.status) ? " (simulated)" : ""}: ${n.status}`));
      spark(document.getElementById("stress"), d.stress, 1.0);
      spark(document.getElementById("rula"), d.rula, 7);
      const s = d.stress_now;
      document.getElementById("stress-now").textContent = s ? s.index.toFixed(2) : "-";
      document.getElementById("rula-now").textContent = d.rula && d.rula.length ? d.rula[d.rula.length - 1][1].toFixed(1) : "-";
      document.getElementById("stress-why").textContent = s ? s.explanation : "";
    };
    draw(initial());
    live(`/events/cell/${encodeURIComponent(id)}`, draw);
  }
  return {floor, cell};
})();
