"""Kinetic's composition root: the ``kinetic`` command, the demo and the root settings (imported by none)."""
