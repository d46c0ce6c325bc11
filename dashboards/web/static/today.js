// Today: the day's charts (uPlot, vendored) from today.json; the live card from server-sent events (/live).
"use strict";
(function () {
  const root = document.getElementById("live");
  const wearer = root.dataset.wearer;
  const day = root.dataset.day;
  const LEVELS = ["lying", "sitting", "standing", "moving", "prompt"];
  let tz = "UTC";
  let counters = null;
  let charts = [];
  let reloadTimer = null;
  let shown = -1;  // the newest snapshot's version: a slower today.json must not undo a newer live event

  function text(id, value) { document.getElementById(id).textContent = value; }

  function duration(s) {
    if (s === null || s === undefined) return "-";
    s = Math.max(0, s);
    if (s < 60) return Math.round(s) + " s";
    const m = Math.floor(s / 60);
    return m >= 60 ? Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min" : m + " min";
  }

  function clock(ms) {
    return new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .format(new Date(ms));
  }

  function localDay(ms) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date(ms));
  }

  function showLive(s) {
    if (s.version < shown) return;
    shown = s.version;
    tz = s.timezone || tz;
    text("posture", s.posture || "not known yet");
    text("posture-for", duration(s.posture_s));
    text("data-clock", s.now_ms ? clock(s.now_ms) : "-");
    const bout = s.sitting_bout;
    const bar = document.getElementById("bout-bar");
    if (bout) {
      text("bout", duration(bout.duration_s));
      text("bout-ahead", bout.ahead_s >= 0
        ? duration(bout.ahead_s) + " to the " + s.sitting_threshold_min + " min threshold"
        : duration(-bout.ahead_s) + " over the " + s.sitting_threshold_min + " min threshold");
      bar.style.width = Math.min(100, 100 * bout.duration_s / bout.threshold_s) + "%";
      bar.className = bout.ahead_s < 0 ? "over" : "";
    } else {
      text("bout", "not sitting");
      text("bout-ahead", "threshold " + s.sitting_threshold_min + " min");
      bar.style.width = "0";
    }
    text("lean", s.lean_deg === null || s.lean_deg === undefined ? "-" : s.lean_deg.toFixed(1) + "°");
    const form = document.getElementById("done-form");
    const snooze = document.getElementById("snooze-form");
    if (s.last_prompt) {
      const p = s.last_prompt;
      text("last-prompt", clock(p.created_ms) + ": " + p.title + (p.attempt > 1 ? " (re-prompt)" : ""));
      document.getElementById("done-prompt").value = p.id;
      document.getElementById("snooze-prompt").value = p.id;
      form.hidden = false;
      snooze.hidden = false;
    } else {
      form.hidden = true;
      snooze.hidden = true;
    }
    text("paused", s.paused ? (s.paused_until_ms ? "Prompts paused until " + clock(s.paused_until_ms) : "Prompts paused until resumed") : "");
    const now = [s.bouts_ended, s.prompts_seen, s.outcomes_seen].join("/");
    if (counters !== null && now !== counters && s.now_ms && localDay(s.now_ms) === day) {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(loadDay, 500);
    }
    counters = now;
  }

  function timelineData(d) {
    // built by the server (dashboards/web/views.py timeline_series): nulls where there is no posture, so gaps stay gaps
    const t = d.series;
    return [t.t, t.level, t.moved, t.no_break, t.waiting];
  }

  function size(el) { return { width: Math.max(300, el.clientWidth), height: 200 }; }

  function draw(d) {
    charts.forEach(c => c.destroy());
    charts = [];
    const tzDate = ts => uPlot.tzDate(new Date(ts * 1e3), tz);
    const scaleX = { time: true, range: () => [d.start_ms / 1000, d.end_ms / 1000] };
    // one clock on the page: the axes and the legend in the wearer's zone, 24 h, as the cards above
    const hm = s => new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit" }).format(new Date(s * 1000));
    const xAxis = { values: (u, splits) => splits.map(hm) };
    const xSeries = { value: (u, v) => v === null || v === undefined ? "--" : hm(v) };
    const tl = document.getElementById("timeline");
    charts.push(new uPlot({
      ...size(tl), tzDate, scales: { x: scaleX, y: { range: [-0.5, 4.5] } },
      axes: [xAxis, { splits: () => [0, 1, 2, 3, 4], values: (u, v) => v.map(i => LEVELS[i] || ""), size: 70 }],
      series: [xSeries, { label: "posture", stroke: "#0b5cad", width: 6, spanGaps: false },
        // the marks' labels come with the data (views.MARK_LABELS): moved, no break within 5 min, not known yet
        { label: d.mark_labels.moved, stroke: "#116329", paths: () => null,
          points: { show: true, size: 11, fill: "#116329" } },
        { label: d.mark_labels.no_break, stroke: "#a40e26", paths: () => null,
          points: { show: true, size: 11, fill: "#a40e26" } },
        { label: d.mark_labels.waiting, stroke: "#57606a", paths: () => null,
          points: { show: true, size: 11, fill: "#ffffff", width: 2 } }],
    }, timelineData(d), tl));
    const lc = document.getElementById("leanchart");
    const leanEmpty = document.getElementById("lean-empty");
    text("lean-note", d.lean_card_note);
    // no lean to draw: say why (no trunk sensor, or none sent that day) instead of drawing empty axes
    lc.hidden = Boolean(d.lean_empty);
    leanEmpty.hidden = !d.lean_empty;
    leanEmpty.textContent = d.lean_empty || "";
    if (!d.lean_empty) {
      charts.push(new uPlot({
        ...size(lc), tzDate, scales: { x: scaleX },
        axes: [xAxis, { label: "degrees", size: 60 }],
        series: [xSeries, { label: "lean", stroke: "#116329", width: 1.5, spanGaps: false }],
      }, [d.lean.t, d.lean.lean_deg], lc));
    }
    const list = document.getElementById("prompt-list");
    list.replaceChildren();
    if (!d.prompts.length) { const li = document.createElement("li"); li.textContent = "No prompts this day."; list.append(li); }
    for (const p of d.prompts) {
      const li = document.createElement("li");
      li.textContent = clock(p.t_ms) + " " + p.trigger + ": " + p.exercise + ", " + p.outcome;
      list.append(li);
    }
  }

  function loadDay() {
    fetch("/w/" + encodeURIComponent(wearer) + "/today.json?day=" + encodeURIComponent(day))
      .then(r => r.ok ? r.json() : Promise.reject(new Error("today.json: HTTP " + r.status)))
      .then(d => { showLive(d.live); draw(d); })
      .catch(e => { text("prompt-list", String(e)); });
  }

  loadDay();
  const source = new EventSource("/w/" + encodeURIComponent(wearer) + "/live");
  source.addEventListener("live", e => showLive(JSON.parse(e.data)));
})();
