"""A clinician's exercise file named ``*.yml`` (YAML's other common extension) in KINETIC_ALERTS__CATALOG_DIRS."""

from __future__ import annotations

from pathlib import Path

from alerts.errors import CatalogError
from alerts.prompts.catalog import CATALOG_DIR, load_catalog


def test_a_yml_file_in_a_catalog_folder_is_read_or_refused(tmp_path: Path) -> None:
    """Before: silently skipped (only ``*.yaml`` is globbed): `kinetic prompts catalog` listed the built-in catalog,
    the service started, and the clinician's exercises were never suggested."""
    core = (CATALOG_DIR / "core.yaml").read_text()
    entry = core[core.index("exercises:") : core.index("\n\n", core.index("exercises:"))]
    (tmp_path / "clinic.yml").write_text(entry.replace("spinal-decompression-60s", "clinic-neck-roll"))
    try:
        catalog = load_catalog([tmp_path])
    except CatalogError as exc:  # refused naming the file is right too
        assert "clinic.yml" in str(exc)
        return
    assert "clinic-neck-roll" in {e.id for e in catalog}
