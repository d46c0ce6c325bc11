// kinetic serve: the guided session's timer (dashboards/web/session.py). Phase by phase (data-phases: label,
// seconds, cue) once the session has started; it only shows time, the sensor judges the session.
(function () {
  "use strict";
  const guide = document.getElementById("guide");
  if (!guide || guide.dataset.running !== "yes") return;
  const phases = JSON.parse(guide.dataset.phases);
  const phase = document.getElementById("phase");
  const cue = document.getElementById("cue");
  const left = document.getElementById("left");
  const progress = document.getElementById("progress");
  const starts = [];
  let total = 0;
  for (const p of phases) { starts.push(total); total += p.seconds; }
  const t0 = performance.now();
  function tick() {
    const elapsed = (performance.now() - t0) / 1000;
    progress.value = Math.min(elapsed, total);
    if (elapsed >= total) {
      phase.textContent = "Done: press End and say how it went.";
      cue.textContent = "";
      left.textContent = "";
      return;
    }
    let i = starts.length - 1;
    while (starts[i] > elapsed) i -= 1;
    const p = phases[i];
    phase.textContent = p.label;
    phase.dataset.index = String(i);
    cue.textContent = p.cue;
    left.textContent = Math.ceil(starts[i] + p.seconds - elapsed) + " s";
    setTimeout(tick, 100);
  }
  tick();
})();
