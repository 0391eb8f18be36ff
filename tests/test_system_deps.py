"""The system libraries WeasyPrint needs are installed, and the check names what is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "ensure_system_deps.sh"


def test_every_system_library_the_pdf_step_needs_is_installed() -> None:
    proc = subprocess.run(["sh", str(SCRIPT), "--check"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


def test_weasyprint_finds_harfbuzz_subsetting() -> None:
    # Without libharfbuzz-subset0 WeasyPrint falls back to embedding whole fonts and warns.
    from weasyprint.text import ffi

    assert getattr(ffi, "harfbuzz_subset", None) is not None


def test_the_check_names_a_missing_library(tmp_path: Path) -> None:
    # An ldconfig that knows no library: every package is reported missing, nothing installed.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ldconfig").write_text("#!/bin/sh\nexit 0\n")
    (fake / "ldconfig").chmod(0o755)
    proc = subprocess.run(["sh", str(SCRIPT), "--check"], capture_output=True, text=True,
                          env={"PATH": f"{fake}:/usr/bin:/bin"}, check=False)
    assert proc.returncode == 1
    assert "libharfbuzz-subset0" in proc.stderr and "libpango-1.0-0" in proc.stderr
