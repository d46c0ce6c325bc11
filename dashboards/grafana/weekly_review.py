"""*Weekly review*: a clinician's view of one patient's week, per calendar day in the clinic's time zone, with
the activPAL-style outcomes, trunk exposure, prompt response and the change against the week before.

The patient selector lists only the wearers of the ``patients`` roster (a regex; ``kinetic dashboards push``
sets it per clinic). Definitions: docs/metrics.md; the weekly report (``kinetic report weekly``) computes the
same numbers and a test checks that both agree.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, dashboard, table, timeseries

from dashboards.grafana.influxql import DATASOURCE, DAY, WEARER, InfluxQL, grid, table_panel
from dashboards.grafana.variables import ALL_PATIENTS, patients_variable, tz_variable, wearer_variable

UID = "kinetic-weekly-review"
SYMMETRY_INDEX = (
    "(sum(lean_right_deg_s) - sum(lean_left_deg_s)) / (0.5 * (sum(lean_right_deg_s) + sum(lean_left_deg_s))) * 100"
)


def _daily(title: str, query: str, unit: str, y: int, x: int = 0, w: int = 12, description: str = "") -> barchart.Panel:
    return (
        barchart.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(InfluxQL(query, table=True))
        .unit(unit)
        .grid_pos(grid(x, y, w, 8))
    )


# calendar weeks from Monday: InfluxQL's 1w buckets start on Thursdays (the epoch's weekday), offset by 4 days
WEEK = "GROUP BY time(1w, 4d), exercise"


def _weekly(title: str, query: str, y: int, description: str) -> table.Panel:
    """A table per week and exercise over the last 9 weeks (the panel's own time range, whatever the dashboard's)."""
    return table_panel(title, query, grid(0, y, 24, 8), description).time_from("9w")


def build(
    *, title: str = "Kinetic - weekly review", uid: str = UID, patients: str = ALL_PATIENTS, tz: str = "UTC"
) -> dashboard.Dashboard:
    where = f"FROM summary_1h WHERE {WEARER} AND $timeFilter"
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["kinetic", "clinician"])
        .description(
            "One patient's week per day: sitting, bouts, breaks, trunk exposure, prompt response, check-ins, "
            "readiness and the exercise programme."
        )
        .timezone(tz)
        .time("now/w", "now/w")
        .week_start("monday")
        .with_variable(patients_variable(patients))
        .with_variable(wearer_variable(roster=True))
        .with_variable(tz_variable(tz))
        .with_panel(
            _daily(
                "Sitting, standing, stepping, lying (min per day)",
                "SELECT sum(sitting_s) / 60 AS sitting, sum(standing_s) / 60 AS standing, "
                f"sum(moving_s) / 60 AS stepping, sum(lying_s) / 60 AS lying {where} {DAY}",
                "m",
                0,
                description="Seconds classified as each posture (docs/metrics.md, hourly summary), summed per day.",
            )
        )
        .with_panel(
            _daily(
                "Sitting bouts of 30 min or more, and of 60 min or more (per day)",
                "SELECT sum(sitting_bouts_30_60min) + sum(sitting_bouts_60min_plus) AS bouts_30min_plus, "
                f"sum(sitting_bouts_60min_plus) AS bouts_60min_plus {where} {DAY}",
                "short",
                0,
                x=12,
                description="Counted on the day the bout ends.",
            )
        )
        .with_panel(
            _daily(
                "Breaks per sitting hour",
                "SELECT sum(breaks) / (sum(sitting_s) / 3600) AS breaks_per_sitting_hour, sum(breaks) AS breaks "
                f"{where} {DAY}",
                "short",
                8,
                description="A break is a sitting bout followed directly by standing or stepping.",
            )
        )
        .with_panel(
            _daily(
                "Longest sitting bout (min)",
                f"SELECT max(duration_s) / 60 AS longest_min FROM events WHERE {WEARER} AND kind = 'bout_ended' "
                f"AND posture = 'sitting' AND $timeFilter {DAY}",
                "m",
                8,
                x=12,
            )
        )
        .with_panel(
            _daily(
                "Trunk forward inclination bands, static (min per day)",
                "SELECT sum(forward_0_20_s) / 60 AS incl_0_20deg, sum(forward_20_60_s) / 60 AS incl_20_60deg, "
                f"sum(forward_over_60_s) / 60 AS incl_over_60deg {where} {DAY}",
                "m",
                16,
                description="ISO 11226: 0-20 deg acceptable, 20-60 deg conditional, over 60 deg not acceptable.",
            )
        )
        .with_panel(
            _daily(
                "Leaning 10 deg or more (min) and lean symmetry index (%)",
                f"SELECT sum(lean_above_10deg_s) / 60 AS lean_10deg_min, {SYMMETRY_INDEX} AS symmetry_index_pct "
                f"{where} {DAY}",
                "short",
                16,
                x=12,
                description="Symmetry index: + right, - left, 0 balanced (or no lean beyond the 2 deg dead band).",
            )
        )
        .with_panel(
            table_panel(
                "Prompt response by exercise (% followed by a break within 1 / 3 / 5 min)",
                "SELECT count(broke_1min) AS prompts, 100 * sum(broke_1min) / count(broke_1min) AS within_1min, "
                "100 * sum(broke_3min) / count(broke_3min) AS within_3min, "
                "100 * sum(broke_5min) / count(broke_5min) AS within_5min, sum(acked) AS acked "
                f"FROM prompt_outcomes WHERE {WEARER} AND $timeFilter GROUP BY exercise",
                grid(0, 24, 12, 8),
            )
        )
        .with_panel(
            table_panel(
                "Week over week",
                "SELECT sum(sitting_s) / 3600 AS sitting_h, sum(sitting_bouts_60min_plus) AS bouts_60min_plus, "
                "sum(breaks) AS breaks, sum(lean_above_10deg_s) / 60 AS lean_10deg_min "
                f"FROM summary_1h WHERE {WEARER} AND time >= ${{__from}}ms - 7d AND time < ${{__to}}ms "
                "GROUP BY time(7d, 4d) fill(none) tz('$tz')",
                grid(12, 24, 12, 8),
                description="The selected week and the 7 days before it, in calendar weeks from Monday.",
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("Worn time (h per day)")
            .description("Hours classified as a posture (not 'not worn' or 'unknown'): the data-quality base.")
            .datasource(DATASOURCE)
            .with_target(
                InfluxQL(
                    "SELECT (sum(sitting_s) + sum(standing_s) + sum(moving_s) + sum(lying_s)) / 3600 AS worn_h "
                    f"{where} {DAY}"
                )
            )
            .unit("h")
            .grid_pos(grid(0, 32, 24, 6))
        )
        .with_panel(
            _daily(
                "Pain (0-10) and stress (0 low - 2 high) check-ins, highest per day",
                "SELECT max(pain) AS pain_max, max(stress_level) AS stress_max "
                f"FROM checkins WHERE {WEARER} AND $timeFilter {DAY}",
                "short",
                38,
                description="What the wearer reported (kinetic prompts checkin, ntfy, the web app), beside the "
                "sitting above: does pain follow long sitting days? A day without a check-in has no bar.",
            )
        )
        .with_panel(
            table_panel(
                "Readiness per day (capacity / relief, and why)",
                "SELECT relief, lying_h, rmssd_ms, ln_rmssd, normal_low, pain, stress_level, reason "
                f"FROM readiness WHERE {WEARER} AND $timeFilter tz('$tz')",
                grid(12, 38, 12, 8),
                description="The day type decided each morning (relief = 1) from last night's HRV (RMSSD, ln RMSSD "
                "against the normal range), lying time and check-ins (docs/metrics.md, Readiness). No row: no data "
                "that day, the weekly plan applied.",
            )
        )
        # the exercise programme (issue 19): sessions, their dose and quality, pain after, prescription changes
        .with_panel(
            table_panel(
                "Exercise sessions per exercise and outcome",
                "SELECT count(duration_s) AS sessions FROM session_outcomes WHERE "
                f"{WEARER} AND $timeFilter GROUP BY exercise, outcome",
                grid(0, 46, 8, 8),
                description="Sessions done / partial / skipped this week (docs/exercises.md); compare with the "
                "sessions per week of the dose in force (the prescriptions table).",
            )
        )
        .with_panel(
            _daily(
                "Pain and effort after exercise sessions (0-10), mean per day",
                f"SELECT mean(pain) AS pain, mean(effort) AS effort FROM session_outcomes WHERE {WEARER} AND "
                f"$timeFilter {DAY}",
                "short",
                46,
                x=8,
                w=16,
                description="What the wearer reported when ending a session (kinetic session end, the web app).",
            )
        )
        .with_panel(
            table_panel(
                "Exercise sessions: dose achieved vs prescribed and quality",
                "SELECT exercise, outcome, reps, reps_prescribed, within_tempo, holds, holds_prescribed, hold_s, "
                "sway_deg, shake_mg, cycles, cycles_prescribed, range_deg, ldlj, breaths_per_min, reached, pain, "
                f"effort, reason FROM session_outcomes WHERE {WEARER} AND $timeFilter tz('$tz')",
                grid(0, 54, 24, 8),
                description="Each session at its end: the dose the sensor verified against the prescribed one and "
                "the quality figures (tempo, sway, smoothness, breathing rate; docs/exercises.md: holds and "
                "mobility are validated on emulated sensors only); reason: why it is incomplete.",
            )
        )
        .with_panel(
            table_panel(
                "Prescription changes and progression proposals",
                "SELECT exercise, kind, sets, reps, hold_s, per_day, per_week, step, automatic, reason "
                f"FROM prescriptions WHERE {WEARER} AND kind != 'session_adherence' AND $timeFilter tz('$tz')",
                grid(0, 62, 24, 8),
                description="kinetic prescription: each change of a dose and each weekly proposal (step +1 up, -1 "
                "back, 0 keep). A proposal not followed by a prescription_changed of its exercise is pending: "
                "kinetic prescription accept / reject.",
            )
        )
        # over weeks (issue 19, item 5): adherence, the progression chart and the quality trend, the last 9 weeks
        .with_panel(
            _weekly(
                "Adherence per exercise and week: sessions done / prescribed (last 9 weeks)",
                "SELECT last(adherence_pct) AS adherence_pct, last(sessions_done) AS done, "
                "last(sessions_prescribed) AS prescribed, last(sessions_partial) AS partial, "
                f"last(sessions_skipped) AS skipped FROM prescriptions WHERE {WEARER} AND kind = 'session_adherence' "
                f"AND $timeFilter {WEEK} fill(none) tz('$tz')",
                70,
                description="Per exercise and calendar week, the sessions done against the sessions per week of the "
                "dose in force at the week's end, as the weekly report counts them (0 % when nothing was done). "
                "Written after each week by kinetic prescription propose (a session_adherence point per exercise "
                "prescribed that week): a week it has not judged yet, or before the prescription began, has no row "
                "(docs/exercises.md, Adherence).",
            )
        )
        .with_panel(
            _weekly(
                "Prescribed dose over weeks per exercise (last 9 weeks)",
                "SELECT last(sets) AS sets, last(reps) AS reps, last(hold_s) AS hold_s FROM prescriptions WHERE "
                f"{WEARER} AND kind = 'prescription_changed' AND $timeFilter {WEEK} fill(previous) tz('$tz')",
                78,
                description="The dose in force at the end of each week (Monday to Sunday in the clinic's zone): the "
                "last prescription_changed up to then (kinetic prescription set / accept, automatic progression). "
                "A week before the first change in the chart's 9 weeks is empty; a prescription written by hand "
                "and never changed through Kinetic has no row (the weekly report shows its dose from the file).",
            )
        )
        .with_panel(
            _weekly(
                "Exercise sessions over weeks: dose achieved and quality, median per week (last 9 weeks)",
                "SELECT count(duration_s) AS sessions, median(reps) AS reps, median(hold_s) AS hold_s, "
                "median(cycles) AS cycles, median(within_tempo) AS within_tempo, median(rise_s) AS rise_s, "
                "median(lowering_s) AS lowering_s, median(sway_deg) AS sway_deg, median(shake_mg) AS shake_mg, "
                "median(range_deg) AS range_deg, median(ldlj) AS ldlj, median(breaths_per_min) AS breaths_per_min, "
                f"mean(pain) AS pain, mean(effort) AS effort FROM session_outcomes WHERE {WEARER} AND verified = 1 "
                f"AND $timeFilter {WEEK} fill(none) tz('$tz')",
                86,
                description="Per exercise and week, the sessions the sensor verified: the dose achieved (repetitions, "
                "held seconds, mobility cycles), the quality figures (movements within the tempo, rise and lowering "
                "times, sway and shake of holds, range and smoothness of mobility, breathing rate) and the pain and "
                "effort reported after them (docs/exercises.md: holds and mobility are validated on emulated "
                "sensors only).",
            )
        )
        # the calendar's part (issue 17, item 3): as the weekly report's "Check-ins and readiness" table shows it
        .with_panel(
            _daily(
                "Prompts held in meetings (per day)",
                f"SELECT count(reason) AS held_in_meetings FROM events WHERE {WEARER} AND kind = 'prompt_held' "
                f"AND reason = 'meeting' AND $timeFilter {DAY}",
                "short",
                94,
                w=8,
                description="A prompt that came due while the wearer's calendar said busy (docs/prompts.md, "
                "Calendars): held, and sent after the meeting if they still sat.",
            )
        )
        .with_panel(
            _daily(
                "After-meeting prompts, and those followed by a break within 5 min (per day)",
                "SELECT count(broke_5min) AS after_meeting, sum(broke_5min) AS after_meeting_break_5min "
                f"FROM prompt_outcomes WHERE {WEARER} AND context = 'after_meeting' AND $timeFilter {DAY}",
                "short",
                94,
                x=8,
                w=8,
                description="The hip-opening sequence sent when a meeting sat through had ended, counted from each "
                "prompt's outcome (5 min after it), which carries why it was sent.",
            )
        )
        .with_panel(
            table_panel(
                "Prompt response by why it was sent (threshold, after a meeting, re-prompt)",
                "SELECT count(broke_5min) AS prompts, sum(broke_5min) AS break_5min, "
                "100 * sum(broke_5min) / count(broke_5min) AS within_5min, sum(held_s) / 60 AS held_min "
                f"FROM prompt_outcomes WHERE {WEARER} AND $timeFilter GROUP BY context",
                grid(16, 94, 8, 8),
                description="The week's prompts by why they were sent, the share followed by a break within 5 min "
                "and the minutes they were held (meetings, do-not-disturb, pause, caps). An empty context: "
                "outcomes stored before it was carried.",
            )
        )
    )
