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
from console.errors import ConsoleError
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


# -- make-sessions (item 2) -----------------------------------------------------------------


def make_sessions(out, n, seed, *extra):
    return main(["make-sessions", str(out), "--n", str(n), "--seed", str(seed), "--duration",
                 "1", "--sample-rate", "16000", "--source", "synth", *extra])


def contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_make_sessions_again_adds_songs_and_never_rewrites_one(tmp_path, capsys):
    from console.data import scan_folder

    out = tmp_path / "data"
    assert make_sessions(out, 2, 0) == 0
    before = {name: contents(out / name) for name in ("song_0000", "song_0001")}
    assert make_sessions(out, 2, 5) == 0
    assert "song_0002 to song_0003" in capsys.readouterr().out
    assert {name: contents(out / name) for name in before} == before
    assert json.loads((out / "song_0002" / "session.json").read_text())["seed"] == 5
    songs = scan_folder(out)
    assert [s.name for s in songs] == [f"song_{i:04d}" for i in range(4)]
    assert hidden(out) == []


def test_make_sessions_refuses_a_seed_a_song_there_already_used(tmp_path, capsys):
    out = tmp_path / "data"
    assert make_sessions(out, 2, 0) == 0
    before = contents(out)
    capsys.readouterr()
    assert make_sessions(out, 2, 1) == 2
    line = one_error_line(capsys)
    assert "song_0001 already holds the song of seed 1" in line and "--seed 2" in line
    assert contents(out) == before


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_make_sessions_out_that_cannot_be_a_folder_is_one_line(tmp_path, where, capsys):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" if where == "file" else tmp_path / "afile" / "data"
    assert make_sessions(out, 1, 0) == 2
    assert "is a file" in one_error_line(capsys)
    assert (tmp_path / "afile").read_text() == "x"


def test_a_song_whose_stems_do_not_match_its_mix_is_never_trained_on(tmp_path):
    from console.data import scan_folder
    from console.data.problems import DataWarning

    out = tmp_path / "data"
    assert make_sessions(out, 2, 0) == 0
    stems = out / "song_0000" / "stems"
    (stems / "old_guitar.wav").write_bytes((stems / "bass.wav").read_bytes())
    with pytest.warns(DataWarning, match="old_guitar.wav, which params.json does not list"):
        songs = scan_folder(out)
    assert [s.name for s in songs] == ["song_0001"]


def test_a_killed_make_sessions_leaves_nothing_the_next_run_keeps(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    stale = make_leftover(out, "song_0000")
    assert make_sessions(out, 1, 0) == 0
    assert not stale.exists() and sorted(p.name for p in out.iterdir()) == ["song_0000"]


# -- train and train-emulator (items 4 and 9) -----------------------------------------------


def test_train_does_not_start_over_a_run_whose_state_was_deleted(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").write_bytes(b"the best weights")
    (run / "console.pt").write_bytes(b"the latest weights")
    data = tmp_path / "data"
    data.mkdir()
    assert main(["train", "--data", str(data), "--out", str(run), "--steps", "1"]) == 2
    line = one_error_line(capsys)
    assert "best.pt and console.pt" in line and "train_state.pt" in line and "--out" in line
    assert (run / "best.pt").read_bytes() == b"the best weights"
    assert (run / "console.pt").read_bytes() == b"the latest weights"


@pytest.mark.parametrize("command", ["train", "train-emulator"])
@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_a_run_folder_that_is_a_file_is_refused_before_any_work(tmp_path, command, where,
                                                                capsys, monkeypatch):
    import console.cli.train as train_cli
    import console.cli.train_emulator as emulator_cli

    def no_work(*_args, **_kwargs):
        raise AssertionError("work started before the run folder was checked")

    monkeypatch.setattr(train_cli, "scan", no_work)
    monkeypatch.setattr(emulator_cli, "build_trainer", no_work)
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" if where == "file" else tmp_path / "afile" / "run"
    argv = (["train", "--data", str(tmp_path), "--out", str(out), "--steps", "1"]
            if command == "train" else ["train-emulator", "eq", "--out", str(out), "--steps",
                                        "1"])
    assert main(argv) == 2
    assert "is a file" in one_error_line(capsys)
    assert (tmp_path / "afile").read_text() == "x"


def test_train_emulator_keeps_a_finished_runs_weights_but_resumes_a_response_fit(tmp_path):
    from console.cli.train_emulator import run_artifacts
    from console.training.loop import check_run_folder

    run = tmp_path / "run"
    run.mkdir()
    (run / "identified.pt").write_bytes(b"fit")
    (run / "best.pt").write_bytes(b"fit")  # what --steps 0 copies: resumable
    check_run_folder(run, run_artifacts(run))
    (run / "best.pt").write_bytes(b"trained on audio")
    with pytest.raises(ConsoleError, match="cannot be resumed"):
        check_run_folder(run, run_artifacts(run))
    (run / "train_state.pt").write_bytes(b"state")  # a run to resume
    check_run_folder(run, run_artifacts(run))


# -- demo -----------------------------------------------------------------------------------


def test_demo_again_replaces_its_own_output_but_keeps_an_edit(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", str(out), "--duration", "1"]) == 0
    assert main(["demo", str(out), "--duration", "1"]) == 0
    params = out / "mix.params.json"
    params.write_text(params.read_text().replace('"gain_db"', '"gain_db" ', 1))
    edited = params.read_bytes()
    stem = next((out / "session" / "stems").iterdir())
    capsys.readouterr()
    assert main(["demo", str(out), "--duration", "1"]) == 2
    assert "mix.params.json has changed since console wrote it" in one_error_line(capsys)
    assert params.read_bytes() == edited
    stem.write_bytes(b"re-recorded")
    assert main(["demo", str(out), "--duration", "1", "--force"]) == 0
    assert (out / "session.kept" / "stems" / stem.name).read_bytes() == b"re-recorded"


def test_demo_out_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["demo", str(tmp_path / "afile"), "--duration", "1"]) == 2
    assert "is a file" in one_error_line(capsys)


def test_evaluate_out_that_is_a_file_is_refused_before_any_system_loads(tmp_path, capsys,
                                                                      monkeypatch):
    import console.evaluation.systems as systems

    monkeypatch.setattr(systems, "load_system", lambda name: pytest.fail("work started"))
    (tmp_path / "afile").write_text("x")
    assert main(["evaluate", str(tmp_path), "--systems", "loudness", "--out",
                 str(tmp_path / "afile")]) == 2
    assert "is a file" in one_error_line(capsys)
