"""``python -m kinetic``: the ``kinetic`` command."""

from kinetic.cli import main

raise SystemExit(main())
