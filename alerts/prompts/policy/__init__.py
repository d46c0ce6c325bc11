"""Prompt policy: what a clinician sets per wearer (model) and when a prompt goes out (planner)."""
