"""Alert-service settings (KINETIC_ALERTS__...)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class AlertsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sitting_threshold_min: float = Field(
        default=30.0, gt=0, le=24 * 60, description="continuous sitting (event time) before a prompt"
    )
    min_posture_s: int = Field(
        default=10, ge=1, le=600, description="activPAL-style minimum duration before a new posture counts"
    )
    max_gap_s: int = Field(default=60, ge=2, le=3600, description="a data gap longer than this ends the current bout")
    lean_episode_min: float = Field(
        default=5.0, gt=0, le=240, description="a sustained lean episode lasts at least this long beyond 10 deg"
    )
    prompt_ttl_min: float = Field(default=15.0, gt=0, description="a prompt expires this long after creation")
    catalog_dirs: list[Path] = Field(
        default_factory=list, description="extra catalog folders (clinicians' own exercises)"
    )
    policy_file: Path | None = Field(
        default=None, description="YAML prompt policy: defaults and per-wearer overrides (docs/prompts.md)"
    )
