// A loss chart that grows as a job reports metrics: one SVG line per metric against the step.
// job.js feeds it every progress event that carries metrics (live ones and the replayed history,
// so a reloaded page redraws the whole curve). Click a name in the legend to hide or show its line:
// metrics on very different scales then each get the whole height.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];
  const W = 640, H = 260, PAD = { left: 52, right: 12, top: 10, bottom: 24 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function LossChart(container) {
    this.container = container;
    this.series = {}; // name -> [[step, value], ...]
    this.hidden = new Set();
    this.svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "loss-chart", role: "img",
      "aria-label": "Loss chart" }, container.querySelector(".chart-area") || container);
    this.legend = container.querySelector(".chart-legend");
    this.pending = false;
  }

  LossChart.prototype.add = function (step, metrics) {
    Object.entries(metrics).forEach(([name, value]) => {
      if (!isFinite(value)) return;
      (this.series[name] = this.series[name] || []).push([step, Number(value)]);
    });
    this.container.hidden = false;
    if (!this.pending) { // replays arrive in bursts: draw once per frame
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }
  };

  LossChart.prototype.draw = function () {
    const names = Object.keys(this.series);
    const shown = names.filter((n) => !this.hidden.has(n));
    const points = shown.flatMap((n) => this.series[n]);
    while (this.svg.firstChild) this.svg.removeChild(this.svg.firstChild);
    const pw = W - PAD.left - PAD.right, ph = H - PAD.top - PAD.bottom;
    el("rect", { x: PAD.left, y: PAD.top, width: pw, height: ph, fill: "none", stroke: "#999" }, this.svg);
    if (points.length) {
      let x0 = Math.min(...points.map((p) => p[0])), x1 = Math.max(...points.map((p) => p[0]));
      let y0 = Math.min(0, ...points.map((p) => p[1])), y1 = Math.max(...points.map((p) => p[1]));
      if (x1 === x0) x1 = x0 + 1;
      if (y1 === y0) y1 = y0 + 1;
      const sx = (x) => PAD.left + (x - x0) / (x1 - x0) * pw;
      const sy = (y) => PAD.top + ph - (y - y0) / (y1 - y0) * ph;
      for (let i = 0; i <= 4; i++) {
        const v = y0 + (y1 - y0) * i / 4;
        el("line", { x1: PAD.left, x2: PAD.left + pw, y1: sy(v), y2: sy(v), stroke: "#eee" }, this.svg);
        el("text", { x: PAD.left - 4, y: sy(v) + 4, "text-anchor": "end", class: "tick" }, this.svg)
          .textContent = Number(v.toPrecision(3));
      }
      el("text", { x: PAD.left, y: H - 6, class: "tick" }, this.svg).textContent = x0;
      el("text", { x: PAD.left + pw, y: H - 6, "text-anchor": "end", class: "tick" }, this.svg)
        .textContent = "step " + x1;
      shown.forEach((name) => {
        const colour = COLOURS[names.indexOf(name) % COLOURS.length];
        const d = this.series[name].map((p) => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ");
        el("polyline", { points: d, fill: "none", stroke: colour, "stroke-width": 2, "data-metric": name }, this.svg);
      });
    }
    this.drawLegend(names);
  };

  LossChart.prototype.drawLegend = function (names) {
    if (!this.legend) return;
    this.legend.textContent = "";
    names.forEach((name, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "legend-item" + (this.hidden.has(name) ? " off" : "");
      button.style.borderColor = COLOURS[i % COLOURS.length];
      const last = this.series[name][this.series[name].length - 1][1];
      button.textContent = name + " " + Number(last.toPrecision(4));
      button.title = "Show or hide " + name;
      button.addEventListener("click", () => {
        if (this.hidden.has(name)) this.hidden.delete(name); else this.hidden.add(name);
        this.draw();
      });
      this.legend.appendChild(button);
    });
  };

  window.StudioLossChart = LossChart;
})();
