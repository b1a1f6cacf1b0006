/* The report's behaviour: draw each chart with plotly.js, then filter tables in place.
   When every chart has been drawn, <html data-charts-rendered="N"> says so (the browser
   tests wait for it); a chart that fails sets data-charts-failed and logs the error. */
(function () {
  "use strict";
  var root = document.documentElement;

  function drawCharts() {
    var jobs = [];
    document.querySelectorAll("[data-chart]").forEach(function (node) {
      var spec = JSON.parse(document.getElementById(node.getAttribute("data-chart")).textContent);
      jobs.push(Plotly.newPlot(node, spec.data, spec.layout || {}, spec.config || {}));
    });
    return Promise.all(jobs);
  }

  function applyFilters(form) {
    var table = document.getElementById(form.getAttribute("data-filters-for"));
    var text = (form.querySelector("[data-filter=text]") || {}).value || "";
    var needle = text.trim().toLowerCase();
    var selects = form.querySelectorAll("select[data-filter-attribute]");
    var rows = table.tBodies[0].rows;
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var visible = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1;
      selects.forEach(function (select) {
        var wanted = select.value;
        if (!visible || !wanted) return;
        var words = (row.getAttribute(select.getAttribute("data-filter-attribute")) || "").split(" ");
        visible = words.indexOf(wanted) !== -1;
      });
      row.hidden = !visible;
      if (visible) shown++;
    }
    var count = form.querySelector(".count");
    if (count) count.textContent = shown + " of " + rows.length + " shown";
  }

  document.querySelectorAll("form.filters").forEach(function (form) {
    form.addEventListener("input", function () { applyFilters(form); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    applyFilters(form);
  });

  drawCharts().then(
    function (drawn) { root.setAttribute("data-charts-rendered", String(drawn.length)); },
    function (error) {
      root.setAttribute("data-charts-failed", String(error));
      console.error("a chart could not be drawn:", error);
    }
  );
})();
