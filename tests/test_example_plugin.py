"""The example third-party package, installed for real, joins the console."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "console-plugin-example"


def pip(*args):
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True, text=True, check=False,
    )


@pytest.fixture(scope="module")
def installed_example():
    already = pip("show", "console-plugin-example").returncode == 0
    result = pip("install", "--no-deps", "--no-build-isolation", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    yield
    if not already:
        pip("uninstall", "-y", "console-plugin-example")


def run_python(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
def test_console_plugins_lists_the_installed_effect(installed_example):
    listing = json.loads(
        subprocess.run(
            [sys.executable, "-m", "console.cli.main", "plugins", "--json"],
            capture_output=True, text=True, check=True,
        ).stdout
    )
    drive = next(e for e in listing["effect"] if e["name"] == "drive")
    assert drive["distribution"] == "console-plugin-example 0.1.0"
    assert [p["name"] for p in drive["params"]] == ["drive_db", "mix"]


@pytest.mark.slow
def test_a_spec_with_the_third_party_effect_mixes(installed_example):
    out = run_python(
        "import torch\n"
        "from console import Console\n"
        "c = Console.from_spec('gain+drive+pan',"
        " encoder='vggish', encoder_options={'channels': (4, 8, 8, 8), 'fc': (32, 32)},"
        " hidden=16)\n"
        "r = c(torch.randn(1, 3, 16000), sample_rate=16000)\n"
        "r.mix.sum().backward()\n"
        "print([s.effect_key + '.' + s.spec.name for s in c.layout], tuple(r.mix.shape))\n"
    )
    assert "'drive.drive_db', 'drive.mix'" in out and "(1, 2, 16000)" in out


@pytest.mark.slow
def test_autoload_switch_leaves_it_out(installed_example):
    env_code = (
        "import os\nos.environ['CONSOLE_DISABLE_PLUGIN_AUTOLOAD'] = '1'\n"
        "from console.plugins import get_plugins\n"
        "print(sorted(get_plugins().registry('effect')))\n"
    )
    out = run_python(env_code)
    assert "drive" not in out and "gain" in out
