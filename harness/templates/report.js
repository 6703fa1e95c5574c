/* splitbrain report: the counterexample view (zoom, pan, details) and copy buttons.
   Self-contained, no network. Runs after the page is parsed; errors are shown in
   #report-errors by the handler in <head>. */
(function () {
  "use strict";
  const SVGNS = "http://www.w3.org/2000/svg";

  function svgEl(name, attrs, parent) {
    const node = document.createElementNS(SVGNS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function niceStep(span) {
    const raw = span / 8;
    const base = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (base * m >= raw) return base * m;
    return base * 10;
  }

  function fmtSeconds(t, step) {
    const decimals = Math.max(0, Math.min(9, -Math.floor(Math.log10(step))));
    return t.toFixed(decimals);
  }

  function fmtDuration(seconds) {
    if (seconds < 1e-3) return (seconds * 1e6).toFixed(0) + " µs";
    if (seconds < 1) return (seconds * 1e3).toFixed(2) + " ms";
    return seconds.toFixed(3) + " s";
  }

  class CounterexampleView {
    constructor(root, data) {
      this.root = root;
      this.data = data;
      this.svg = root.querySelector("svg.ce-plot");
      this.detail = root.querySelector(".ce-detail");
      this.pinned = null;
      this.select(0);
      this.bind();
    }

    select(n) {
      this.prefixIndex = n;
      this.prefix = this.data.prefixes[n];
      const ops = this.prefix.ops;
      const procs = [...new Set(ops.map((op) => op.process))];
      procs.sort((a, b) => (typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b))));
      this.lanes = new Map(procs.map((p, i) => [p, i]));
      const starts = ops.map((op) => op.start).filter((t) => t !== null);
      const ends = ops.map((op) => (op.end === null ? op.start : op.end)).filter((t) => t !== null);
      const lo = Math.min(...starts);
      const hi = Math.max(...ends);
      const pad = Math.max((hi - lo) * 0.08, 1e-4);
      this.extent = [lo - pad, hi + pad];
      this.openEnd = hi + pad * 0.9; // where open-ended (info) ops are drawn to
      // The first view: the ops that completed around the blocked one. Info ops invoked
      // long before would squeeze them into a sliver; they stay reachable by "fit".
      const near = ops.filter((op) => op.end !== null || op.blocked).map((op) => op.start);
      const nearLo = near.length ? Math.min(...near) : lo;
      const nearPad = Math.max((hi - nearLo) * 0.06, 1e-4);
      this.initial = [nearLo - nearPad, hi + nearPad];
      this.points = this.linearizationPoints(ops);
      for (const button of this.root.querySelectorAll("[data-prefix]")) {
        button.classList.toggle("active", Number(button.dataset.prefix) === n);
      }
      const state = this.root.querySelector(".ce-state");
      if (state) state.textContent = this.prefix.state;
      const length = this.root.querySelector(".ce-length");
      if (length) length.textContent = String(this.prefix.length);
      this.pinned = null;
      this.domain = this.initial.slice();
      this.render();
    }

    /* The earliest point inside each linearized op's interval that respects the
       linearization order: where the checker's order "happens". */
    linearizationPoints(ops) {
      const lin = ops.filter((op) => op.linearized && op.lin_index !== null);
      lin.sort((a, b) => a.lin_index - b.lin_index);
      let previous = -Infinity;
      return lin.map((op) => {
        let t = Math.max(op.start, previous);
        if (op.end !== null && t > op.end) t = op.end;
        previous = t;
        return { op: op, t: t };
      });
    }

    fit() {
      this.domain = this.extent.slice();
      this.render();
    }

    /* The blocked op and the last few ops linearized before it. */
    zoomToBlocked() {
      const blocked = this.prefix.ops.find((op) => op.blocked);
      if (!blocked) return this.fit();
      const end = blocked.end === null ? this.openEnd : blocked.end;
      const recent = this.points.slice(-4).map((p) => p.t);
      const lo = Math.min(blocked.start, ...recent);
      const pad = Math.max((end - lo) * 0.1, 1e-4);
      this.domain = [lo - pad, end + pad];
      this.render();
    }

    geometry() {
      const width = Math.max(this.svg.parentNode.clientWidth || 0, 600);
      const left = 64, right = 16, top = 30, lane = 30;
      return { width, left, right, top, lane, plot: width - left - right,
               height: top + lane * this.lanes.size + 12 };
    }

    x(t, g) {
      const [v0, v1] = this.domain;
      return g.left + ((t - v0) / (v1 - v0)) * g.plot;
    }

    render() {
      const g = this.geometry();
      const svg = this.svg;
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      svg.setAttribute("width", g.width);
      svg.setAttribute("height", g.height);
      svg.setAttribute("viewBox", "0 0 " + g.width + " " + g.height);
      const defs = svgEl("defs", {}, svg);
      const clip = svgEl("clipPath", { id: "ce-clip" }, defs);
      svgEl("rect", { x: g.left, y: 0, width: g.plot, height: g.height }, clip);

      for (const [proc, i] of this.lanes) {
        const y = g.top + i * g.lane;
        svgEl("rect", { x: 0, y: y, width: g.width, height: g.lane, class: i % 2 ? "ce-lane odd" : "ce-lane" }, svg);
        const label = svgEl("text", { x: 8, y: y + g.lane / 2 + 4, class: "ce-lane-label" }, svg);
        label.textContent = "p" + proc;
      }

      const [v0, v1] = this.domain;
      const step = niceStep(v1 - v0);
      const axis = svgEl("g", { class: "ce-axis" }, svg);
      for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
        const x = this.x(t, g);
        svgEl("line", { x1: x, x2: x, y1: g.top - 4, y2: g.height - 12, class: "ce-grid" }, axis);
        const text = svgEl("text", { x: x, y: g.top - 10, "text-anchor": "middle" }, axis);
        text.textContent = fmtSeconds(t, step) + " s";
      }

      const body = svgEl("g", { "clip-path": "url(#ce-clip)" }, svg);
      for (const op of this.prefix.ops) this.drawOp(op, g, body);
      this.drawOrder(g, body);
    }

    drawOp(op, g, parent) {
      const y = g.top + this.lanes.get(op.process) * g.lane + 5;
      // Clamped to just outside the plot: a long info op zoomed into would otherwise be a
      // bar millions of pixels wide, and its dashed outline very slow to paint.
      const lo = g.left - 20, hi = g.left + g.plot + 20;
      const x0 = Math.min(Math.max(this.x(op.start, g), lo), hi);
      const x1 = Math.min(Math.max(this.x(op.end === null ? this.openEnd : op.end, g), lo), hi);
      const width = Math.max(x1 - x0, 2);
      let kind = op.blocked ? "blocked" : op.linearized ? "lin" : "pending";
      if (op.end === null) kind += " open";
      if (op.status === "fail") kind += " fail";
      const group = svgEl("g", { class: "ce-op " + kind, "data-id": op.id }, parent);
      svgEl("rect", { x: x0, y: y, width: width, height: g.lane - 10, rx: 3 }, group);
      if (width > 36) {
        const text = svgEl("text", { x: x0 + 4, y: y + g.lane / 2 - 1 }, group);
        const chars = Math.floor((width - 8) / 6.2);
        text.textContent = op.label.length > chars ? op.label.slice(0, Math.max(chars - 1, 1)) + "…" : op.label;
      }
      if (op.blocked) {
        const nearRight = x0 > g.left + g.plot - 170;
        const mark = svgEl("text", { x: nearRight ? x1 : x0, y: y - 1, class: "ce-blocked-label",
                                     "text-anchor": nearRight ? "end" : "start" }, parent);
        mark.textContent = "✕ cannot be linearized";
      }
      group.addEventListener("mouseenter", () => { if (!this.pinned) this.show(op); });
      group.addEventListener("click", (event) => {
        event.stopPropagation();
        this.pinned = this.pinned === op ? null : op;
        this.show(op);
      });
    }

    drawOrder(g, parent) {
      if (!this.points.length) return;
      const coords = this.points.map((p) => [this.x(p.t, g), g.top + this.lanes.get(p.op.process) * g.lane + g.lane / 2]);
      svgEl("polyline", { points: coords.map((c) => c.join(",")).join(" "), class: "ce-order" }, parent);
      coords.forEach((c, i) => {
        const dot = svgEl("circle", { cx: c[0], cy: c[1], r: 3.5, class: "ce-point" }, parent);
        const title = svgEl("title", {}, dot);
        title.textContent = "linearized #" + (this.points[i].op.lin_index + 1);
      });
    }

    show(op) {
      const lines = op.lines && op.lines[0] !== null
        ? "history lines " + op.lines.filter((l) => l !== null).join("–") : "";
      const when = "invoked at " + op.start.toFixed(6) + " s; " +
        (op.end === null
          ? "no completion: an info op, it may take effect at any later time or never"
          : "completed at " + op.end.toFixed(6) + " s (" + fmtDuration(op.end - op.start) + ")");
      let role;
      if (op.blocked) {
        role = "This op could not be linearized after the " + this.prefix.length +
          "-op prefix; the model state before it was " + this.prefix.state + ".";
      } else if (op.linearized) {
        role = "Linearized as op " + (op.lin_index + 1) + " of the " + this.prefix.length + "-op prefix" +
          (op.state_after !== null && op.state_after !== undefined ? "; state after it: " + op.state_after + "." : ".");
      } else {
        role = "Concurrent with the blocked op and not linearized in this prefix.";
      }
      this.detail.textContent = "";
      const head = document.createElement("b");
      head.textContent = op.label;
      this.detail.append(head, document.createElement("br"), when + (lines ? "; " + lines : ""),
        document.createElement("br"), role, this.pinned ? " (pinned: click again to release)" : "");
    }

    bind() {
      const svg = this.svg;
      svg.addEventListener("wheel", (event) => {
        event.preventDefault();
        const g = this.geometry();
        const [v0, v1] = this.domain;
        const at = v0 + ((event.offsetX - g.left) / g.plot) * (v1 - v0);
        const factor = Math.exp(event.deltaY * 0.0015);
        this.domain = [at - (at - v0) * factor, at + (v1 - at) * factor];
        this.render();
      }, { passive: false });
      let drag = null;
      svg.addEventListener("pointerdown", (event) => {
        drag = { x: event.clientX, domain: this.domain.slice(), moved: false };
      });
      svg.addEventListener("pointermove", (event) => {
        if (!drag) return;
        if (!drag.moved) {
          if (Math.abs(event.clientX - drag.x) < 4) return; // a click, not a drag
          drag.moved = true;
          try { svg.setPointerCapture(event.pointerId); } catch (error) { /* pointer already gone */ }
        }
        const g = this.geometry();
        const shift = ((event.clientX - drag.x) / g.plot) * (drag.domain[1] - drag.domain[0]);
        this.domain = [drag.domain[0] - shift, drag.domain[1] - shift];
        this.render();
      });
      const release = () => { drag = null; };
      svg.addEventListener("pointerup", release);
      svg.addEventListener("pointercancel", release);
      svg.addEventListener("click", () => { this.pinned = null; });
      for (const button of this.root.querySelectorAll("[data-action]")) {
        button.addEventListener("click", () => {
          if (button.dataset.action === "fit") this.fit();
          if (button.dataset.action === "blocked") this.zoomToBlocked();
        });
      }
      for (const button of this.root.querySelectorAll("[data-prefix]")) {
        button.addEventListener("click", () => this.select(Number(button.dataset.prefix)));
      }
      window.addEventListener("resize", () => this.render());
    }
  }

  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyButtons() {
    for (const button of document.querySelectorAll("[data-copy]")) {
      button.addEventListener("click", () => {
        const target = document.getElementById(button.dataset.copy);
        const done = () => { button.textContent = "copied"; setTimeout(() => { button.textContent = "copy"; }, 1500); };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(target.textContent).then(done, () => selectText(target));
        } else {
          selectText(target);
        }
      });
    }
  }

  copyButtons();
  const root = document.getElementById("counterexample-view");
  const source = document.getElementById("counterexample-data");
  if (root && source) {
    window.splitbrainCounterexample = new CounterexampleView(root, JSON.parse(source.textContent));
  }
  document.body.setAttribute("data-report-ready", "1");
})();
