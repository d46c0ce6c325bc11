// Week: the weekly report's charts, the same Vega-Lite specs it prints (charts.json), drawn by vega-embed (vendored)
// as SVG, with tooltips, no actions menu, and Vega's expression interpreter (the CSP allows no eval).
import { expressionInterpreter } from "/static/vendor/vega-interpreter-2.3.2/vega-interpreter.js";

const box = document.getElementById("charts");
const url = "/w/" + encodeURIComponent(box.dataset.wearer) + "/week/charts.json?week=" + encodeURIComponent(box.dataset.week);
const options = { actions: false, renderer: "svg", ast: true, expr: expressionInterpreter, downloadFileName: "kinetic" };

async function draw() {
  const answer = await fetch(url);
  if (!answer.ok) throw new Error("charts.json: HTTP " + answer.status);
  const d = await answer.json();
  for (const chart of d.charts) {
    const figure = document.createElement("figure");
    figure.className = "vega-chart";
    figure.dataset.chart = chart.name;
    figure.dataset.empty = String(chart.empty);
    const view = document.createElement("div");
    view.setAttribute("role", "img");
    view.setAttribute("aria-label", chart.title);
    figure.append(view);  // the chart's own title names it (and the view's aria-label)
    box.append(figure);
    await vegaEmbed(view, chart.spec, options);
  }
  box.dataset.ready = "true";
}

draw().catch(e => { box.textContent = String(e); box.dataset.ready = "error"; });
