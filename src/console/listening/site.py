"""Building the static listening-test site from the excerpts of an evaluation run.

The site is plain files (``index.html``, ``mushra.js``, ``style.css``,
``config.js`` and ``audio/``), so it works from any static web server or
straight from the disk. The test's description is written as a script
(``config.js``) rather than JSON, because browsers refuse to fetch files
from a page opened with ``file://``.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from console.errors import ConsoleError

MANIFEST_FORMAT = "console-listening-excerpts"
SITE_FORMAT = "console-listening-test"
#: A file that marks a folder as a site this module built, so rebuilding may replace it.
MARKER = ".console-listening-site"
PAGE_FILES = ("mushra.js", "style.css")


def read_manifest(eval_dir: Path) -> dict[str, Any]:
    """The excerpt manifest ``console evaluate`` wrote into ``eval_dir``."""
    path = eval_dir / "excerpts" / "manifest.json"
    if not path.is_file():
        raise ConsoleError(
            f"{eval_dir} has no excerpts/manifest.json; run `console evaluate ... --out "
            f"{eval_dir}` with --excerpt-seconds above 0 first."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConsoleError(f"{path} is not valid JSON ({exc}); re-run console evaluate.") from exc
    if manifest.get("format") != MANIFEST_FORMAT or not manifest.get("songs"):
        raise ConsoleError(f"{path} is not an excerpt manifest with songs; re-run evaluate.")
    return manifest


def site_config(manifest: dict[str, Any], title: str) -> dict[str, Any]:
    """The description ``mushra.js`` reads: one trial per song, audio paths inside the site."""
    trials = []
    for song in manifest["songs"]:
        files = song["files"]
        folder = f"audio/{song['folder']}"
        conditions = {label: f"{folder}/{files[label]}" for label in manifest["systems"]}
        conditions["reference"] = f"{folder}/{files['reference']}"  # the hidden reference
        conditions["anchor"] = f"{folder}/{files['anchor']}"
        trials.append({
            "song": song["song"],
            "reference": f"{folder}/{files['reference']}",
            "conditions": conditions,
        })
    fingerprint = json.dumps([title, trials], sort_keys=True).encode()
    return {
        "format": SITE_FORMAT,
        "version": 1,
        "title": title,
        "test_id": hashlib.sha1(fingerprint).hexdigest()[:10],
        "require_top_rating": True,
        "systems": list(manifest["systems"]),
        "trials": trials,
    }


def build_site(eval_dir: Path, site_dir: Path, title: str = "Which mix is closest?") -> Path:
    """Write the site for ``eval_dir``'s excerpts into ``site_dir``; returns its index page.

    The site is assembled in a temporary folder and moved into place whole.
    An existing ``site_dir`` is replaced only if it is an earlier site.
    """
    manifest = read_manifest(eval_dir)
    if site_dir.exists() and any(site_dir.iterdir()) and not (site_dir / MARKER).exists():
        raise ConsoleError(
            f"{site_dir} exists and is not a listening-test site; choose an empty or new folder."
        )
    config = site_config(manifest, title)
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}.", dir=site_dir.parent))
    try:
        _assemble(staging, eval_dir / "excerpts", manifest, config)
        if site_dir.exists():
            shutil.rmtree(site_dir)
        staging.rename(site_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return site_dir / "index.html"


def _assemble(
    staging: Path, excerpts: Path, manifest: dict[str, Any], config: dict[str, Any]
) -> None:
    package = resources.files("console.listening")
    page = package.joinpath("page.html").read_text(encoding="utf-8")
    (staging / "index.html").write_text(
        page.replace("{{TITLE}}", html.escape(config["title"])), encoding="utf-8"
    )
    for name in PAGE_FILES:
        (staging / name).write_text(package.joinpath(name).read_text(encoding="utf-8"),
                                    encoding="utf-8")
    (staging / "config.js").write_text(
        "window.LISTENING_TEST = " + json.dumps(config, indent=2) + ";\n", encoding="utf-8"
    )
    for song in manifest["songs"]:
        source = excerpts / song["folder"]
        target = staging / "audio" / song["folder"]
        target.mkdir(parents=True)
        for file_name in song["files"].values():
            if not (source / file_name).is_file():
                raise ConsoleError(
                    f"The excerpt {source / file_name} is missing; re-run console evaluate."
                )
            shutil.copy2(source / file_name, target / file_name)
    (staging / MARKER).write_text(json.dumps({"test_id": config["test_id"]}) + "\n")
    staging.chmod(0o755)
