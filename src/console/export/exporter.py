"""``console export`` in one call: stems and decisions in, an Ardour session folder out.

The folder holds the session (``NAME.ardour`` and its ``interchange`` audio), the
printed stems (every track through its whole chain, post-fader, stereo, all the
same length, for any other DAW), the decisions as a params file, and a README
listing every decision and every difference. Everything that can be checked is
checked before any audio is read; the folder appears only when it is complete.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import torch

from console.atomic import atomic_write_text
from console.audio import probe, write_audio
from console.chain import EffectChain
from console.export.ardour_controls import LevelStage, level_stage
from console.export.ardour_session import SessionTrack, session_xml
from console.export.folder import building, check_export_folder, finish
from console.export.plan import TrackPlan, plan_tracks
from console.export.printed import read_track, render_track
from console.export.readme import readme_text
from console.master import MasterReport, MasterSettings, master
from console.mix_params import MixParams

Progress = Callable[[str], None]

#: Where the printed stems go inside the export folder.
PRINTED = "printed-stems"
#: The decisions the session was built from, copied into the folder.
PARAMS_NAME = "mix.params.json"
#: Folders Ardour keeps in every session (it would create them on first load).
_SESSION_FOLDERS = ("analysis", "dead", "export", "externals", "peaks", "plugins")


@attrs.frozen
class ExportResult:
    """What was written and decided, for the CLI's summary and for tests."""

    folder: Path
    session_file: Path
    tracks: tuple[TrackPlan, ...]
    master: MasterReport
    master_level: LevelStage
    #: The mix ``(2, T)`` after the master stage: what ``console render`` writes.
    mix: torch.Tensor
    #: Where files of the replaced folder that console did not write were moved (--force).
    kept: Path | None = None
    #: One line saying what was moved there, or None.
    kept_note: str | None = None


def _files_for(plan: TrackPlan) -> tuple[str, ...]:
    if plan.channels == 1:
        return (f"{plan.name}.wav",)
    return tuple(f"{plan.name}-{side}.wav" for side in ("L", "R"))


def export_session(
    stems_dir: str | Path,
    params: MixParams,
    folder: str | Path,
    *,
    force: bool = False,
    master_settings: MasterSettings | None = None,
    params_label: str = "the params file",
    protected: Sequence[str | Path] = (),
    progress: Progress | None = None,
) -> ExportResult:
    """Write the session folder for ``params`` applied to the stems in ``stems_dir``.

    ``master_settings`` defaults to the params file's own, and to the default master
    stage when it has none, as ``console render`` does.
    ``protected`` names further inputs the folder must not overlap (the params file).
    """
    say = progress or (lambda _: None)
    folder = check_export_folder(folder, force, [stems_dir, *protected])
    chain = EffectChain.from_spec(params.spec)
    settings_tensor = chain.to_tensor(params)  # refuses a file that does not fit the chain
    paths = params.stem_files(stems_dir, params_label)
    # as `console render` does: a file with no master stage gets the default one
    settings = master_settings or params.master or MasterSettings()
    rate = params.sample_rate
    infos = [probe(path) for path in paths]
    frames = max(round(i.frames * rate / i.sample_rate) for i in infos)
    for note in params.channel_notes(infos, params_label):
        say(note)
    plans = plan_tracks(chain, settings_tensor, params.track_names, rate, params.channels)
    name = folder.resolve().name
    about = {"written-by": "console export", "spec": params.spec, "tracks": len(plans)}
    with building(folder, say) as work:
        audio_dir = work / "interchange" / name / "audiofiles"
        audio_dir.mkdir(parents=True)
        (work / "interchange" / name / "midifiles").mkdir()
        for sub in _SESSION_FOLDERS:
            (work / sub).mkdir()
        mix = torch.zeros(2, frames)
        tracks = []
        for k, (path, plan) in enumerate(zip(paths, plans, strict=True)):
            say(f"printing {path.name} ({k + 1}/{len(paths)})")
            track = read_track(path, rate, frames, params.tracks[k].channels)
            rendered = render_track(chain, track, settings_tensor[k], rate, plan.printed_count)
            files = _files_for(plan)
            for file, channel in zip(files, rendered.session, strict=True):
                write_audio(audio_dir / file, channel[None], rate)
            write_audio(work / PRINTED / f"{plan.name}.wav", rendered.printed, rate)
            mix += rendered.printed
            tracks.append(SessionTrack(plan, files))
        mastered, report = master(mix, rate, settings)
        master_level = level_stage(report.gain_db)
        session_file = work / f"{name}.ardour"
        atomic_write_text(session_file, session_xml(name, rate, frames, tracks, master_level))
        attrs.evolve(params, master=settings).save(work / PARAMS_NAME)
        atomic_write_text(work / "README.md", readme_text(
            name=name, params=params, plans=plans, report=report, master_level=master_level,
            frames=frames, printed_folder=PRINTED, params_name=PARAMS_NAME,
        ))
        installed = finish(work, folder, force, about)
    return ExportResult(
        folder=folder, session_file=folder / f"{name}.ardour", tracks=tuple(plans),
        master=report, master_level=master_level, mix=mastered, kept=installed.kept,
        kept_note=installed.describe_kept(),
    )


def default_progress(command: str) -> Progress:
    """Progress lines on stderr, prefixed with the command's name."""
    return lambda text: print(f"console {command}: {text}", file=sys.stderr)
