/* llm-load report: draws the charts described by the JSON element #llm-data with uPlot.
   Each chart spec comes from llm_load/report/charts.py; this file only maps it to uPlot
   options. A container gets data-rendered="true" once its chart is drawn. */
(function () {
  "use strict";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                 "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
  var data = JSON.parse(document.getElementById("llm-data").textContent);

  function fmt(v) {
    if (v === null || v === undefined) return "-";
    var a = Math.abs(v);
    if (a >= 100) return Math.round(v).toLocaleString("en-US");
    return a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }

  // Axis ticks: as many decimals as the tick step needs (0, 25, 50 ... or 0.5, 1.0 ...).
  function ticks(u, splits) {
    var step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1;
    var digits = step >= 1 || step === 0 ? 0 : Math.min(4, Math.ceil(-Math.log10(step)));
    return splits.map(function (v) {
      return v === null ? "" : v.toLocaleString("en-US", {minimumFractionDigits: digits,
                                                           maximumFractionDigits: digits});
    });
  }

  // Room for the widest tick label plus the axis title, so they never overlap.
  function axisSize(u, values) {
    var widest = (values || []).reduce(function (n, v) { return Math.max(n, String(v).length); }, 1);
    return 28 + 7 * widest;
  }

  function marksPlugin(marks) {
    return {hooks: {draw: [function (u) {
      if (!marks.length) return;
      var ctx = u.ctx, px = window.devicePixelRatio || 1, box = u.bbox;
      ctx.save();
      ctx.strokeStyle = "#777";
      ctx.fillStyle = "#444";
      ctx.setLineDash([4 * px, 4 * px]);
      ctx.font = Math.round(11 * px) + "px sans-serif";
      marks.forEach(function (m, i) {
        var x = Math.round(u.valToPos(m.x, "x", true));
        if (x < box.left || x > box.left + box.width) return;
        ctx.beginPath();
        ctx.moveTo(x, box.top);
        ctx.lineTo(x, box.top + box.height);
        ctx.stroke();
        ctx.fillText(m.label, x + 4 * px, box.top + (12 + 13 * (i % 2)) * px);
      });
      ctx.restore();
    }]}};
  }

  function seriesOpts(s, i) {
    var color = s.color || PALETTE[i % PALETTE.length];
    var out = {label: s.label, stroke: color, width: 2, scale: s.scale, spanGaps: true,
               value: function (u, v) { return v === null ? "-" : fmt(v) + " " + s.unit; }};
    if (s.style === "points") {
      out.paths = function () { return null; };
      out.points = {show: true, size: 6, fill: color};
    } else if (s.style === "line+points") {
      out.points = {show: true, size: 5, fill: color};
    }
    return out;
  }

  // Charts against active users share one axis width, so their plots line up one under another.
  function alignedSize(u, values) { return Math.max(84, axisSize(u, values)); }

  function axes(chart) {
    var x = {label: chart.x_label};
    var size = chart.kind === "saturation" ? alignedSize : axisSize;
    if (chart.x_ticks) {
      x.splits = function () { return chart.x; };
      x.values = function (u, splits) {
        return splits.map(function (v) { return chart.x_ticks[v] || ""; });
      };
    }
    var units = function (scale) {
      return chart.series.filter(function (s) { return s.scale === scale; })
        .map(function (s) { return s.unit; })
        .filter(function (u, i, all) { return u && all.indexOf(u) === i; }).join(", ");
    };
    if (!chart.x_ticks) x.values = ticks;
    var out = [x, {scale: "y", label: units("y"), values: ticks, size: size}];
    if (chart.series.some(function (s) { return s.scale === "y2"; })) {
      out.push({scale: "y2", side: 1, label: units("y2"), grid: {show: false}, values: ticks,
                size: size});
    }
    return out;
  }

  // Value axes start at zero (honest proportions) and leave headroom above the maximum.
  function fromZero(u, min, max) {
    var top = max === null || max <= 0 ? 1 : max * 1.08;
    return [min !== null && min < 0 ? min : 0, top];
  }

  function draw(chart, el) {
    var x = {time: false};
    if (chart.x_ticks) x.range = [-0.3, chart.x.length - 0.7];
    if (chart.kind === "saturation") x.range = fromZero;
    var opts = {
      title: chart.title,
      width: Math.max(320, el.clientWidth || 600),
      height: 280,
      scales: {x: x, y: {range: fromZero}, y2: {range: fromZero}},
      series: [{label: chart.x_label, value: function (u, v) { return fmt(v); }}]
        .concat(chart.series.map(seriesOpts)),
      axes: axes(chart),
      plugins: [marksPlugin(chart.marks || [])],
    };
    var values = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
    var plot = new uPlot(opts, values, el);
    el.setAttribute("data-rendered", "true");
    return plot;
  }

  var plots = [];
  data.charts.forEach(function (chart) {
    var el = document.getElementById("chart-" + chart.id);
    if (el) plots.push([draw(chart, el), el]);
  });
  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p[0].setSize({width: Math.max(320, p[1].clientWidth), height: 280}); });
  });
})();
