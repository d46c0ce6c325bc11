"""Text, JSON and Markdown renderings of evaluation results."""

from __future__ import annotations

from typing import Any

from ingest.recordings.datasets import CLASSES


def text(dataset: str, results: list[dict[str, Any]]) -> str:
    lines = [f"dataset {dataset}"]
    for r in results:
        b = r["sitting_bouts"]
        lines.append(
            f"\n  {r['config']}: balanced accuracy {r['balanced_accuracy']:.3f} over {r['seconds']} labelled seconds"
        )
        lines.append(f"    {'class':<10}{'precision':>10}{'recall':>8}{'F1':>8}{'seconds':>9}")
        for name, s in r["classes"].items():
            lines.append(f"    {name:<10}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}{s['support']:>9}")
        columns = list(next(iter(r["confusion"].values())).keys()) if r["confusion"] else []
        lines.append("    confusion (rows: truth, columns: predicted)")
        lines.append("    " + " " * 10 + "".join(f"{c[:9]:>10}" for c in columns))
        for truth, row in r["confusion"].items():
            lines.append(f"    {truth:<10}" + "".join(f"{row[c]:>10}" for c in columns))
        start = "-" if b["median_start_error_s"] is None else f"{b['median_start_error_s']:.0f} s"
        end = "-" if b["median_end_error_s"] is None else f"{b['median_end_error_s']:.0f} s"
        lines.append(
            f"    sitting bouts >= {b['min_bout_s']:.0f} s: {b['found']} of {b['reference']} found, median start "
            f"error {start}, end error {end}"
        )
        lines.append(f"    calibration: {r['calibration']}; minimum posture duration {r['min_posture_s']} s")
        loso = r.get("loso")
        if loso:
            lb = loso["sitting_bouts"]
            sitting = loso["classes"].get("sitting")
            recall = _figure(sitting and sitting["recall"])
            lines.append(
                f"    leave-one-subject-out ({loso['subjects']} subjects): balanced accuracy "
                f"{loso['balanced_accuracy']:.3f}, per held-out subject min {_figure(loso['per_subject_min'])} / "
                f"median {_figure(loso['per_subject_median'])}; sitting recall {recall}; "
                f"sitting bouts >= {lb['min_bout_s']:.0f} s: {lb['found']} of {lb['reference']} found"
            )
        a = r.get("assembled_long_bouts")
        if a:
            lines.append(
                f"    assembled long bouts: {a['found']} of {a['sitting_bouts_5min_plus']} bouts >= 5 min found; "
                f"{a['prompted']} of {a['bouts_30min_plus']} bouts >= 30 min prompted "
                f"(median prompt time error {a['median_prompt_error_s']} s)"
            )
    return "\n".join(lines)


def markdown(all_results: dict[str, list[dict[str, Any]]]) -> str:
    head = "| dataset | placement | seconds | balanced accuracy | " + " | ".join(f"{c} recall" for c in CLASSES)
    head += " | sitting bouts >= 60 s found | median start / end error |"
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for dataset, results in all_results.items():
        for r in results:
            recalls = [f"{r['classes'][c]['recall']:.3f}" if c in r["classes"] else "-" for c in CLASSES]
            b = r["sitting_bouts"]
            errors = (
                "-"
                if b["median_start_error_s"] is None
                else f"{b['median_start_error_s']:.0f} s / {b['median_end_error_s']:.0f} s"
            )
            rows.append(
                f"| {dataset} | {r['config']} | {r['seconds']} | {r['balanced_accuracy']:.3f} | "
                + " | ".join(recalls)
                + f" | {b['found']} of {b['reference']} | {errors} |"
            )
    rows += [
        "",
        "Leave-one-subject-out: each subject scored with the parameters fitted on the other subjects only "
        "(`alerts/evaluate/protocol.py`), the held-out seconds pooled; development: fitted on every subject and "
        "scored on the same:",
        "",
        "| dataset | placement | subjects | balanced accuracy, development | "
        "balanced accuracy, leave-one-subject-out | per held-out subject: min / median | "
        "sitting recall, development / leave-one-subject-out | sitting bouts >= 60 s found, leave-one-subject-out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for dataset, results in all_results.items():
        for r in results:
            loso = r["loso"]
            recall = [
                _figure(x["classes"]["sitting"]["recall"]) if "sitting" in x["classes"] else "-" for x in (r, loso)
            ]
            rows.append(
                f"| {dataset} | {r['config']} | {loso['subjects']} | {r['balanced_accuracy']:.3f} | "
                f"{loso['balanced_accuracy']:.3f} | {_figure(loso['per_subject_min'])} / "
                f"{_figure(loso['per_subject_median'])} | {recall[0]} / {recall[1]} | "
                f"{loso['sitting_bouts']['found']} of {loso['sitting_bouts']['reference']} |"
            )
    rows += [
        "",
        "Long sitting bouts on **assembled** sequences (real labelled one-second frames cut out and joined into bouts "
        "of 5, 12, 31, 45 and 62 min with real standing and walking between; run through the live AlertEngine with "
        "its streaming calibration):",
        "",
        "| dataset | placement | sequences | sitting bouts >= 5 min found | median start / end error | "
        "bouts >= 30 min prompted | median prompt time error |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, results in all_results.items():
        for r in results:
            a = r.get("assembled_long_bouts")
            if not a:
                continue
            errors = (
                "-"
                if a["median_start_error_s"] is None
                else f"{a['median_start_error_s']:.0f} s / {a['median_end_error_s']:.0f} s"
            )
            prompt_error = "-" if a["median_prompt_error_s"] is None else f"{a['median_prompt_error_s']:.0f} s"
            rows.append(
                f"| {dataset} | {r['config']} | {a['sequences']} | {a['found']} of {a['sitting_bouts_5min_plus']} | "
                f"{errors} | {a['prompted']} of {a['bouts_30min_plus']} | {prompt_error} |"
            )
    held = [(name, r["transitions"]) for name, results in all_results.items() for r in results if "transitions" in r]
    if held:
        rows += [
            "",
            "Trunk sitting/upright **held from postural transitions** (`alerts/detect/transitions.py`, "
            "`KINETIC_ALERTS__TRUNK_TRANSITIONS=true`; off by default), the same seconds and assembled days:",
            "",
            "| dataset | placement | balanced accuracy, development / leave-one-subject-out | sitting recall | "
            "standing recall | sitting bouts >= 60 s found | assembled: sitting bouts >= 5 min found | "
            "assembled: median start / end error | assembled: bouts >= 30 min prompted |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for dataset, t in held:
            classes = t["classes"]
            recalls = [_figure(classes[c]["recall"]) if c in classes else "-" for c in ("sitting", "standing")]
            a = t.get("assembled_long_bouts")
            found = "-" if not a else f"{a['found']} of {a['sitting_bouts_5min_plus']}"
            errors = (
                "-"
                if not a or a["median_start_error_s"] is None
                else f"{a['median_start_error_s']:.0f} s / {a['median_end_error_s']:.0f} s"
            )
            prompted = "-" if not a else f"{a['prompted']} of {a['bouts_30min_plus']}"
            rows.append(
                f"| {dataset} | {t['config']} | {t['balanced_accuracy']:.3f} / {t['loso']['balanced_accuracy']:.3f} | "
                f"{recalls[0]} | {recalls[1]} | {t['sitting_bouts']['found']} of {t['sitting_bouts']['reference']} | "
                f"{found} | {errors} | {prompted} |"
            )
    return "\n".join(rows) + "\n"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
