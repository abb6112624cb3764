"""Building the static listening-test site from the excerpts of an evaluation run.

The site is plain files (``index.html``, ``mushra.js``, ``style.css``,
``config.js`` and ``audio/``), so it works from any static web server or
straight from the disk. The test's description is written as a script
(``config.js``) rather than JSON, because browsers refuse to fetch files
from a page opened with ``file://``.

A site folder is shared with people: participants' result files may be saved
into it. The marker file lists every file the builder wrote, and a rebuild
replaces or removes only those.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from console import manifest as written_files
from console.atomic import atomic_write_text
from console.errors import ConsoleError
from console.listening.folders import check_output_folder, make_output_folder

MANIFEST_FORMAT = "console-listening-excerpts"
SITE_FORMAT = "console-listening-test"
#: A file that marks a folder as a site this module built and lists the files it wrote.
MARKER = ".console-listening-site"
WRITER = "console listening-test"
PAGE_FILES = ("mushra.js", "style.css")
#: What every site holds besides its audio (sites from before the marker listed files).
FIXED_FILES = ("index.html", "config.js", *PAGE_FILES)


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
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or not manifest.get("songs"):
        raise ConsoleError(f"{path} is not an excerpt manifest with songs; re-run evaluate.")
    check_manifest(path, manifest)
    return manifest


def check_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest whose songs lack files or whose names lead outside the site."""
    systems = manifest.get("systems")
    songs = manifest["songs"]
    if not isinstance(systems, list) or not all(isinstance(s, str) for s in systems) \
            or not isinstance(songs, list):
        raise ConsoleError(f"{path} is not an excerpt manifest with songs; re-run evaluate.")
    folders: dict[str, str] = {}
    for song in songs:
        if not isinstance(song, dict) or not isinstance(song.get("files"), dict):
            raise ConsoleError(f"{path} lists a song without files; re-run console evaluate.")
        folder = _plain_name(path, song.get("folder"), "folder")
        files = song["files"]
        missing = [c for c in (*systems, "reference", "anchor") if c not in files]
        if missing:
            raise ConsoleError(
                f"{path} has no {missing[0]!r} excerpt for the song in {folder!r}; re-run "
                f"console evaluate."
            )
        names = [_plain_name(path, name, "file").casefold() for name in files.values()]
        if len(set(names)) < len(names):
            raise ConsoleError(
                f"{path} gives two excerpts of the song in {folder!r} one file; re-run "
                f"console evaluate."
            )
        if folder.casefold() in folders:
            raise ConsoleError(
                f"{path} puts two songs in the excerpt folder {folder!r}; re-run console "
                f"evaluate (it names each song's folder apart)."
            )
        folders[folder.casefold()] = folder


def _plain_name(path: Path, name: Any, what: str) -> str:
    """``name`` if it is one file or folder name, never a way out of the site."""
    if not isinstance(name, str) or name in ("", ".", "..") \
            or any(c in name for c in "/\\\0") or Path(name).is_absolute():
        raise ConsoleError(
            f"{path} names the {what} {name!r}, which is not a plain name inside the site; "
            f"re-run console evaluate to rewrite the manifest."
        )
    return name


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

    The site is assembled in a temporary folder first. A new or empty
    ``site_dir`` is that folder moved into place; an earlier site keeps every
    file the builder did not write (participants' results, notes).
    """
    check_output_folder(site_dir, "site folder")
    manifest = read_manifest(eval_dir)
    if site_dir.exists() and any(site_dir.iterdir()) and not (site_dir / MARKER).exists():
        raise ConsoleError(
            f"{site_dir} exists and is not a listening-test site; choose an empty or new folder."
        )
    config = site_config(manifest, title)
    make_output_folder(site_dir.parent, "site folder")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}.", dir=site_dir.parent))
    except OSError as exc:
        raise ConsoleError(
            f"Cannot write the site into {site_dir.parent} ({exc.strerror or exc}); give -o "
            f"another folder."
        ) from exc
    try:
        written = _assemble(staging, eval_dir / "excerpts", manifest, config)
        if site_dir.exists() and any(site_dir.iterdir()):
            _update_site(site_dir, staging, written, config["test_id"])
        else:
            if site_dir.exists():
                site_dir.rmdir()
            staging.rename(site_dir)
        # what each file held, so a later build tells the user's edits from its own files
        written_files.record(site_dir, [site_dir / relative for relative in written], WRITER)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return site_dir / "index.html"


def _update_site(site_dir: Path, staging: Path, written: list[str], test_id: str) -> None:
    """Move the new site's files into an earlier site, removing only what the builder wrote."""
    owned = _owned_files(site_dir)
    blocked = _in_the_way(site_dir, written, owned)
    if blocked is not None:
        raise ConsoleError(
            f"{blocked} is in the way of the new site: it was not written by it, or changed "
            f"since; move it elsewhere and build the site again."
        )
    # listed first, so an interruption leaves nothing of the builder's unaccounted for
    _write_marker(site_dir, test_id, sorted(owned | set(written)))
    for relative in written:
        target = site_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, target)
    for relative in sorted(owned - set(written)):
        stale = site_dir / relative
        if _changed(site_dir, relative):
            continue  # edited since the builder wrote it: the user's now, kept
        if stale.is_file() or stale.is_symlink():
            stale.unlink()
        for folder in stale.parents:  # the builder's folders, once nothing else is in them
            if folder == site_dir:
                break
            if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                folder.rmdir()
    _write_marker(site_dir, test_id, written)


def _changed(site_dir: Path, relative: str) -> bool:
    """Whether a file the builder wrote was edited since (sites built before the builder
    recorded what it wrote cannot tell, and count as unchanged)."""
    entry = written_files.read(site_dir).get(relative)
    target = site_dir / relative
    return entry is not None and target.exists() and not written_files.unchanged(target, entry)


def _in_the_way(site_dir: Path, written: list[str], owned: set[str]) -> Path | None:
    """The first path the new site needs that holds something the builder did not write,
    or that changed since it wrote it (a style.css the user edited)."""
    for relative in written:
        target = site_dir / relative
        if target.is_symlink() or (target.exists() and (relative not in owned
                                                        or not target.is_file()
                                                        or _changed(site_dir, relative))):
            return target
        for folder in target.parents:
            if folder == site_dir:
                break
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                return folder
    return None


def _owned_files(site_dir: Path) -> set[str]:
    """The files (relative paths) an earlier build wrote, as its marker lists them."""
    try:
        marker = json.loads((site_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = {}
    listed = marker.get("files") if isinstance(marker, dict) else None
    if not isinstance(listed, list):  # a site from before markers listed their files
        listed = [*FIXED_FILES, *_config_audio(site_dir)]
    root = site_dir.resolve()
    return {
        name for name in listed
        if isinstance(name, str) and name and not Path(name).is_absolute()
        and not {"", ".", ".."} & set(name.split("/"))
        and (root / name).resolve().is_relative_to(root)
    }


def _config_audio(site_dir: Path) -> list[str]:
    """The audio files an earlier site's ``config.js`` plays."""
    try:
        text = (site_dir / "config.js").read_text(encoding="utf-8")
        config = json.loads(text.split("=", 1)[1].strip().rstrip(";"))
        return [path for trial in config["trials"] for path in trial["conditions"].values()]
    except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError):
        return []


def _write_marker(folder: Path, test_id: str, files: list[str]) -> None:
    atomic_write_text(folder / MARKER, json.dumps({"test_id": test_id, "files": files}) + "\n")


def _assemble(
    staging: Path, excerpts: Path, manifest: dict[str, Any], config: dict[str, Any]
) -> list[str]:
    """Write the whole site into ``staging``; returns the files written, relative to it."""
    written = list(FIXED_FILES)
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
            written.append(f"audio/{song['folder']}/{file_name}")
    _write_marker(staging, config["test_id"], written)
    staging.chmod(0o755)
    return written
