/* npswatch web app: the substance page's charts, drawn with the vendored uPlot (static/vendor/uplot).
 *
 * Each <div class="chart" data-chart="{...}"> holds its data as JSON (written by npswatch/web/substance.py; the
 * numbers are the cells of the table beside it). No inline script: the page loads this file from the app.
 *   kind "price": x = period starts (unix seconds, UTC); per group a median line and its interquartile range
 *                 (q1..q3) as a band; the legend shows "median (q1–q3)" at the cursor.
 *   kind "count": x = period starts; one line per series (posts, distinct ads).
 * Hover shows the values, dragging across the plot zooms in, a double click zooms out, and clicking a legend
 * entry hides or shows its series (with its band). The uPlot instance is kept as the element's `uplot`.
 */
(function () {
  "use strict";

  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22"];

  function two(v) { return v == null ? "—" : v.toFixed(2); }

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function priceOptions(spec) {
    var data = [spec.x], series = [{ label: "period", value: "{YYYY}-{MM}-{DD}" }], bands = [], edges = [];
    spec.series.forEach(function (s, i) {
      var colour = PALETTE[i % PALETTE.length], at = data.length;
      data.push(s.median, s.q1, s.q3);
      series.push({
        label: s.label, stroke: colour, width: 2, spanGaps: true, points: { show: true, size: 5 },
        value: function (u, v, si, idx) {
          if (idx == null || v == null) { return "—"; }
          return two(v) + " (" + two(s.q1[idx]) + "–" + two(s.q3[idx]) + ")";
        }
      });
      series.push({ label: s.label + " q1", stroke: alpha(colour, 0.35), width: 1, points: { show: false } });
      series.push({ label: s.label + " q3", stroke: alpha(colour, 0.35), width: 1, points: { show: false } });
      bands.push({ series: [at + 2, at + 1], fill: alpha(colour, 0.12) });
      edges.push(at + 1, at + 2);
    });
    return { data: data, series: series, bands: bands, edges: edges, axis: spec.title };
  }

  function countOptions(spec) {
    var data = [spec.x], series = [{ label: "period", value: "{YYYY}-{MM}-{DD}" }];
    spec.series.forEach(function (s, i) {
      data.push(s.values);
      series.push({
        label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: true, size: 5 },
        value: function (u, v) { return v == null ? "—" : String(v); }
      });
    });
    return { data: data, series: series, bands: [], edges: [], axis: "" };
  }

  function draw(el) {
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var o = spec.kind === "price" ? priceOptions(spec) : countOptions(spec);
    var opts = {
      title: spec.title || undefined, width: Math.max(320, el.clientWidth), height: 300,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      series: o.series, bands: o.bands,
      cursor: { drag: { x: true, y: false }, points: { size: 7 } },
      legend: { live: true },
      scales: { x: { time: true } },
      axes: [{}, { label: o.axis, size: 70 }],
      hooks: {
        // a group's q1 and q3 follow its median when its legend entry is clicked
        setSeries: [function (u, si, opts) {
          if (si == null || !opts || opts.show == null || o.edges.indexOf(si) >= 0 || spec.kind !== "price") { return; }
          if (u.series[si + 1] && u.series[si + 1].show !== opts.show) {
            u.setSeries(si + 1, { show: opts.show });
            u.setSeries(si + 2, { show: opts.show });
          }
        }]
      }
    };
    var u = new uPlot(opts, o.data, el);
    // the band edges stay out of the legend: their values are in the median's entry
    var rows = u.root.querySelectorAll(".u-legend .u-series");
    o.edges.forEach(function (si) { if (rows[si]) { rows[si].classList.add("band-edge"); } });
    el.uplot = u;
    el.setAttribute("data-drawn", String(o.data.length - 1));
    return u;
  }

  function start() {
    var charts = [];
    Array.prototype.forEach.call(document.querySelectorAll(".chart[data-chart]"), function (el) {
      charts.push({ el: el, u: draw(el) });
    });
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        charts.forEach(function (c) { c.u.setSize({ width: Math.max(320, c.el.clientWidth), height: 300 }); });
      }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
