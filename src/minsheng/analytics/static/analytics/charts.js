/* Dashboard charts: each <div data-chart="ID"> is drawn from the JSON in <script id="ID-data">
   (written by the server with json_script). A click on a bar, slice or point follows the link
   of that figure: the queue of the appeals behind it. Without JavaScript the tables below each
   chart hold the same figures and links. */
(function () {
  "use strict";
  function option(spec) {
    var base = { tooltip: { trigger: spec.kind === "pie" || spec.kind === "funnel" ? "item" : "axis" },
                 animation: false, grid: { left: 48, right: 16, top: 32, bottom: 48 } };
    if (spec.kind === "pie" || spec.kind === "funnel") {
      base.series = [{ type: spec.kind, name: spec.series[0].name, radius: spec.kind === "pie" ? "65%" : undefined,
        data: spec.labels.map(function (label, i) { return { name: label, value: spec.series[0].data[i] }; }) }];
      return base;
    }
    base.legend = { top: 0 };
    base.xAxis = { type: "category", data: spec.labels, axisLabel: { hideOverlap: true } };
    base.yAxis = { type: "value", minInterval: 1 };
    base.series = spec.series.map(function (s) { return { type: spec.kind, name: s.name, data: s.data }; });
    return base;
  }
  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-chart") + "-data");
    if (!source || !window.echarts) { return; }
    var spec = JSON.parse(source.textContent);
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    chart.on("click", function (params) {
      var link = spec.links[params.dataIndex];
      if (link) { window.location.href = link; }
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-ready", "1");
  }
  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
