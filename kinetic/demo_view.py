"""What ``kinetic demo`` shows in the terminal (rich): progress, prompts as they arrive, a summary table."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alerts.prompts.policy.planner import reason_in_words
from ingest.simulate.scenario import Scenario
from ingest.wire import EventV1, PromptV1
from kinetic.demo import DemoSummary, run_demo
from kinetic.settings import KineticSettings


class DemoView:
    def __init__(self, scenario: Scenario, *, quiet: bool = False) -> None:
        self.scenario = scenario
        self.quiet = quiet
        # With --json, stdout carries only the JSON: the live view goes to stderr.
        self.console = Console(file=sys.stderr if quiet else sys.stdout, highlight=False)

    def run(
        self, settings: KineticSettings, *, db_path: Path, speed: float, ble: bool = False, serve: bool = False
    ) -> DemoSummary:
        scenario = self.scenario
        hours = scenario.duration_s / 3600
        self.console.print(
            f"[bold]Kinetic demo[/]: {len(scenario.wearers)} wearers, {hours:.1f} h from "
            f"{scenario.start:%a %d %b %H:%M}, speed x{speed:g}, embedded broker + SQLite ({db_path})"
        )
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=self.quiet,
        )
        tasks = {w.wearer: progress.add_task(w.wearer, total=w.duration_s, clock="") for w in scenario.wearers}

        def on_progress(wearer: str, done_s: int) -> None:
            clock = scenario.start + timedelta(seconds=done_s)
            progress.update(tasks[wearer], completed=done_s, clock=f"{clock:%H:%M}")

        def on_prompt(prompt: PromptV1) -> None:
            tz = scenario.start.tzinfo
            since = f", sitting since {prompt.bout_start.astimezone(tz):%H:%M}" if prompt.bout_start else ""
            again = " [magenta](re-prompt)[/]" if prompt.attempt > 1 else ""
            progress.console.print(
                f"[cyan]{prompt.created.astimezone(tz):%H:%M}[/] [bold]{prompt.wearer}[/] -> "
                f"[green]{prompt.title}[/]{again} [dim]({prompt.exercise}{since})[/]"
            )

        def on_event(event: EventV1) -> None:
            # why a prompt waited or was dropped: held (and why), sent after waiting, cancelled
            tz = scenario.start.tzinfo
            at = f"[cyan]{event.t.astimezone(tz):%H:%M}[/] [bold]{event.wearer}[/]"
            # which prompt: a wearer may have a sitting and a lean prompt held at once (two lines alike otherwise)
            prompt = f"{event.trigger} prompt" if event.trigger else "prompt"
            if event.kind == "prompt_held":
                progress.console.print(f"{at} [yellow]{prompt} held[/]: {reason_in_words(event.reason)}")
            elif event.kind == "prompt_cancelled":
                progress.console.print(f"{at} [dim]held {prompt} dropped: {reason_in_words(event.reason)}[/]")
            elif event.kind == "prompt_sent" and event.reason:
                progress.console.print(f"{at} [dim]   the prompt above {reason_in_words(event.reason)}[/]")

        def on_url(url: str) -> None:
            # once, plain (a script reads the URL from it), on stderr: with --json stdout carries only the JSON
            print(
                f"kinetic demo: the web app is at {url} (kinetic serve): open it to watch the day live",
                file=sys.stderr,
                flush=True,
            )

        def on_day_played() -> None:
            progress.stop()
            print("kinetic demo: the day is played; the web app stays up until Ctrl-C", file=sys.stderr, flush=True)

        with progress:
            summary = asyncio.run(
                run_demo(
                    scenario,
                    settings,
                    db_path=db_path,
                    speed=speed,
                    on_prompt=on_prompt,
                    on_event=on_event,
                    progress=on_progress,
                    ble=ble,
                    on_url=on_url if serve else None,
                    on_day_played=on_day_played,
                )
            )
        self._print_summary(summary)
        return summary

    def _print_summary(self, summary: DemoSummary) -> None:
        table = Table(title=f"Summary ({summary.scenario_hours} h simulated in {summary.wall_s} s)")
        for column in (
            "wearer",
            "sitting min",
            "sitting bouts",
            ">= 30 min",
            "longest min",
            "breaks",
            "prompts",
        ):
            table.add_column(column, justify="left" if column == "wearer" else "right")
        for w in summary.wearers:
            table.add_row(
                w.wearer,
                f"{w.sitting_min:.0f}",
                str(w.sitting_bouts),
                str(w.bouts_30min_plus),
                f"{w.longest_bout_min:.0f}",
                str(w.breaks),
                str(len(w.prompts)),
            )
        self.console.print(table)
        self.console.print(
            f"{summary.frames} frames in {summary.batches} MQTT messages stored; dead letters: {summary.dead_letters}"
        )
