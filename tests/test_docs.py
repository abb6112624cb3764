"""The Sphinx site builds without a warning (parameter tables come from the registry)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "effects" / "gain.html").read_text()
    assert "gain_db" in page and "-48 to 24" in page
    shutil.rmtree(tmp_path)
