// Week: the last 8 weeks' sitting hours and breaks (uPlot, vendored) from week.json.
"use strict";
(function () {
  const el = document.getElementById("trendchart");
  fetch("/w/" + encodeURIComponent(el.dataset.wearer) + "/week.json?week=" + encodeURIComponent(el.dataset.week))
    .then(r => r.ok ? r.json() : Promise.reject(new Error("week.json: HTTP " + r.status)))
    .then(d => {
      const xs = d.weeks.map((_, i) => i);
      new uPlot({
        width: Math.max(300, el.clientWidth), height: 220,
        scales: { x: { time: false, range: [-0.5, xs.length - 0.5] }, h: {}, n: {} },
        axes: [
          { splits: () => xs, values: (u, v) => v.map(i => d.weeks[i] || "") },
          { scale: "h", label: "sitting (h)", size: 60 },
          { scale: "n", label: "breaks", side: 1, grid: { show: false }, size: 60 },
        ],
        series: [{}, { label: "sitting (h)", scale: "h", stroke: "#0b5cad", width: 2, points: { show: true } },
          { label: "breaks", scale: "n", stroke: "#116329", width: 2, points: { show: true } }],
      }, [xs, d.sitting_h, d.breaks], el);
    })
    .catch(e => { el.textContent = String(e); });
})();
