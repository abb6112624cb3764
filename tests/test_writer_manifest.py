"""Issue 21: nothing a user made or edited is destroyed unasked.

One rule for every writer (console.output_paths, with console.manifest recording what
console wrote): an existing file or folder that console did not write, or that changed
since, is never replaced or deleted without --force; --force on a folder moves what
console did not write aside to a named NAME.kept folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from console import manifest
from console.cli.main import main
from console.export.exporter import export_session
from console.export.folder import LEGACY_MARKER, ExportFolderError
from console.mix_params import MixParams
from console.output_paths import OutputPathError, write_file
from tests.conftest import write_stems
from tests.test_export import make_params, stems_of


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")
                  and p.name != manifest.MANIFEST)


# -- the rule itself ------------------------------------------------------------------------


def test_a_file_console_did_not_write_is_replaced_only_with_force(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(OutputPathError, match="was not written by console"):
        write_file(target, lambda tmp: tmp.write_text("ours"), force=False, what="file", by="t")
    assert target.read_text() == "mine" and hidden(tmp_path) == []
    write_file(target, lambda tmp: tmp.write_text("ours"), force=True, what="file", by="t")
    assert target.read_text() == "ours" and manifest.state(target) == "ours"


def test_unchanged_output_is_written_again_but_a_changed_one_is_kept(tmp_path):
    target = tmp_path / "out.txt"
    write_file(target, lambda tmp: tmp.write_text("one"), force=False, what="file", by="t")
    write_file(target, lambda tmp: tmp.write_text("two"), force=False, what="file", by="t")
    assert target.read_text() == "two"
    times = os.stat(target)
    target.write_text("tw0")  # same size, same times: only the hash can tell
    os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert manifest.state(target) == "changed"
    with pytest.raises(OutputPathError, match="has changed since console wrote it"):
        write_file(target, lambda tmp: tmp.write_text("three"), force=False, what="file",
                   by="t")
    assert target.read_text() == "tw0"


def test_a_damaged_manifest_makes_nothing_ours(tmp_path):
    target = tmp_path / "out.txt"
    write_file(target, lambda tmp: tmp.write_text("one"), force=False, what="file", by="t")
    (tmp_path / manifest.MANIFEST).write_text("{not json")
    assert manifest.state(target) == "foreign"


# -- export (items 1 and 8) -----------------------------------------------------------------


@pytest.fixture
def session(tmp_path):
    """Stems, a params file and a finished export of them at tmp_path/song."""
    stems = tmp_path / "stems"
    write_stems(stems, 2, seconds=0.5)
    params_path = tmp_path / "p.json"
    make_params(stems_of(stems)).save(params_path)
    out = tmp_path / "song"
    assert run_export(stems, params_path, out) == 0
    return stems, params_path, out


def run_export(stems, params_path, out, *extra):
    return main(["export", str(stems), str(params_path), "-o", str(out), "-q", *extra])


def test_export_force_moves_the_users_work_aside_and_names_it(session, tmp_path, capsys):
    stems, params_path, out = session
    take = out / "interchange" / "song" / "audiofiles" / "take 2.wav"
    take.write_bytes(b"a new take")
    (out / "song.ardour").write_text("<Session>edited in Ardour</Session>")
    (out / "snapshot.ardour").write_text("<Session>a snapshot</Session>")
    (out / "printed-stems" / "stem00.wav").unlink()  # what the user deleted stays deleted
    capsys.readouterr()
    assert run_export(stems, params_path, out, "--force") == 0
    kept = tmp_path / "song.kept"
    assert "song.kept" in capsys.readouterr().err
    assert take.relative_to(out).as_posix() in manifest.not_ours(kept)
    assert (kept / "interchange" / "song" / "audiofiles" / "take 2.wav").read_bytes() == (
        b"a new take")
    assert (kept / "song.ardour").read_text() == "<Session>edited in Ardour</Session>"
    assert (kept / "snapshot.ardour").read_text() == "<Session>a snapshot</Session>"
    assert not (kept / "README.md").exists()  # console's own unchanged files are not kept
    assert "edited" not in (out / "song.ardour").read_text() and (out / "README.md").is_file()
    assert (out / "printed-stems" / "stem00.wav").is_file()
    assert manifest.not_ours(out) == []
    assert hidden(tmp_path) == []


def test_export_force_over_an_unchanged_session_keeps_nothing_aside(session, tmp_path):
    stems, params_path, out = session
    assert run_export(stems, params_path, out, "--force") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "song", "stems"]


def test_export_without_force_over_an_edited_session_is_one_sentence(session, capsys):
    stems, params_path, out = session
    (out / "song.ardour").write_text("edited")
    capsys.readouterr()
    assert run_export(stems, params_path, out) == 2
    line = one_error_line(capsys)
    assert "already exists" in line and "--force" in line and "moved aside" in line
    assert (out / "song.ardour").read_text() == "edited"


def test_export_force_over_a_session_of_an_older_console_keeps_all_of_it(session, tmp_path):
    stems, params_path, out = session
    (out / manifest.MANIFEST).rename(out / LEGACY_MARKER)  # what an older console wrote
    assert run_export(stems, params_path, out, "--force") == 0
    kept = tmp_path / "song.kept"
    assert (kept / "song.ardour").is_file() and (kept / "README.md").is_file()


def make_leftover(parent: Path, name: str) -> Path:
    """What an export killed with -9 leaves: a hidden building folder nobody holds."""
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".building", dir=parent))
    (work / manifest.BUILDING).write_text("12345\n")
    (work / "interchange").mkdir()
    (work / "interchange" / "big.wav").write_bytes(b"x" * 4096)
    return work


def test_an_interrupted_exports_leftover_is_removed_by_the_next_run(tmp_path, capsys):
    stems = tmp_path / "stems"
    write_stems(stems, 2, seconds=0.5)
    params_path = tmp_path / "p.json"
    make_params(stems_of(stems)).save(params_path)
    stale = make_leftover(tmp_path, "song")
    other = make_leftover(tmp_path, "other-song")  # another export's: not this run's to judge
    mine = tmp_path / ".song.notours.building"  # not our name pattern
    mine.mkdir()
    with manifest.building(tmp_path / "song") as live:  # a build in progress right now
        assert main(["export", str(stems), str(params_path), "-o", str(tmp_path / "song")]) == 0
        assert live.is_dir()
    assert not stale.exists()
    assert f"removed {stale.name}" in capsys.readouterr().err
    assert other.is_dir() and mine.is_dir()


def test_a_second_export_to_the_same_new_folder_does_not_replace_the_first(tmp_path):
    stems = tmp_path / "stems"
    write_stems(stems, 2, seconds=0.5)
    first = make_params(stems_of(stems), gain__gain_db=-6.0)
    second = make_params(stems_of(stems), gain__gain_db=3.0)
    out = tmp_path / "song"
    started = []

    def meanwhile(_text):  # the first export finishes while the second one works
        if not started:
            started.append(True)
            export_session(stems, first, out)

    with pytest.raises(ExportFolderError, match="appeared while this run worked"):
        export_session(stems, second, out, progress=meanwhile)
    assert MixParams.load(out / "mix.params.json").tracks == first.tracks
    assert manifest.not_ours(out) == []
    assert hidden(tmp_path) == []


def test_a_concurrent_export_with_force_replaces_only_console_files(tmp_path):
    stems = tmp_path / "stems"
    write_stems(stems, 2, seconds=0.5)
    out = tmp_path / "song"
    export_session(stems, make_params(stems_of(stems)), out)

    def meanwhile(_text):  # the engineer records a take while the export works
        (out / "take.wav").write_bytes(b"take")

    export_session(stems, make_params(stems_of(stems)), out, force=True, progress=meanwhile)
    assert (tmp_path / "song.kept" / "take.wav").read_bytes() == b"take"


# -- mix and render (item 5) ----------------------------------------------------------------


def mix(stems_dir, out, checkpoint, *extra):
    return main(["mix", str(stems_dir), "-o", str(out), "--checkpoint", checkpoint, "-q",
                 *extra])


def test_mix_again_keeps_a_hand_edited_params_file(tmp_path, stems_dir, checkpoint, capsys):
    out = tmp_path / "out" / "song.wav"
    params = out.with_name("song.params.json")
    assert mix(stems_dir, out, checkpoint) == 0
    assert mix(stems_dir, out, checkpoint) == 0  # its own unchanged output: written again
    data = json.loads(params.read_text())
    data["tracks"][0]["effects"]["gain"]["gain_db"] = -12.0
    params.write_text(json.dumps(data, indent=2))
    edited, mixed = params.read_bytes(), out.read_bytes()
    capsys.readouterr()
    assert mix(stems_dir, out, checkpoint) == 2
    line = one_error_line(capsys)
    assert "song.params.json has changed since console wrote it" in line
    assert "console render" in line and "--force" in line
    assert params.read_bytes() == edited and out.read_bytes() == mixed
    assert mix(stems_dir, out, checkpoint, "--force") == 0
    assert params.read_bytes() != edited


def test_mix_does_not_replace_a_file_console_did_not_write(tmp_path, stems_dir, checkpoint,
                                                          capsys):
    out = tmp_path / "master-from-the-studio.wav"
    out.write_bytes(b"RIFF the only copy")
    assert mix(stems_dir, out, checkpoint) == 2
    assert "was not written by console" in one_error_line(capsys)
    assert out.read_bytes() == b"RIFF the only copy"
    assert not out.with_name("master-from-the-studio.params.json").exists()


def test_render_over_the_mix_console_wrote_works_but_not_over_an_edited_one(
    tmp_path, stems_dir, checkpoint, capsys
):
    out = tmp_path / "song.wav"
    params = tmp_path / "song.params.json"
    assert mix(stems_dir, out, checkpoint) == 0
    render = ["render", str(stems_dir), str(params), "-o", str(out), "-q"]
    assert main(render) == 0
    out.write_bytes(out.read_bytes()[:-8])  # trimmed by hand in an editor
    capsys.readouterr()
    assert main(render) == 2
    assert "song.wav has changed since console wrote it" in one_error_line(capsys)
    assert main([*render, "--force"]) == 0


# -- plot (item 3) --------------------------------------------------------------------------


def plot(out, *extra, params="{}"):
    return main(["plot", "eq", "--params", params, "-o", str(out), *extra])


def test_plot_never_writes_over_a_stem(stems_dir, capsys):
    stem = stems_dir / "stem00.wav"
    before = stem.read_bytes()
    assert plot(stem) == 2
    assert ".png" in one_error_line(capsys)
    png = stems_dir / "stem00.png"
    png.write_bytes(b"someone's picture")
    assert plot(png) == 2
    assert "was not written by console" in one_error_line(capsys)
    assert stem.read_bytes() == before and png.read_bytes() == b"someone's picture"


def test_plot_never_writes_over_its_own_params_input(tmp_path, capsys):
    settings = tmp_path / "eq.png"  # a settings file with an unlucky name
    settings.write_text('{"band1_gain_db": 3}')
    assert plot(settings, "--force", params=str(settings)) == 2
    assert "one of the inputs" in one_error_line(capsys)
    assert settings.read_text() == '{"band1_gain_db": 3}'


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_plot_output_that_cannot_be_a_file_is_one_line(tmp_path, where, capsys):
    if where == "folder":
        out = tmp_path / "plots.png"
        out.mkdir()
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "eq.png"
    assert plot(out) == 2
    assert ("is a folder" if where == "folder" else "is a file") in one_error_line(capsys)


def test_plot_again_over_its_own_png_works(tmp_path):
    out = tmp_path / "eq.png"
    assert plot(out) == 0
    assert plot(out, params='{"band1_gain_db": 6}') == 0
    assert manifest.state(out) == "ours"
