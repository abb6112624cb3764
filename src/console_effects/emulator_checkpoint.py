"""The checkpoint file every built-in emulator writes and reads, in one place.

``console_effects.emulator`` (EQ, compressor, third-party TCNs) and
``console_effects.reverb_emulator`` share the format; the reverb module cannot
import the other (that one re-exports it), so both import this.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import torch

from console.atomic import atomic_write
from console.checkpoint_file import read_checkpoint as read_checkpoint_file
from console.checkpoint_file import state_dict_of
from console.errors import CheckpointError

EMULATOR_FORMAT = "console-emulator"
EMULATOR_FORMAT_VERSION = 1
#: The rate every emulator is trained at.
EMULATOR_SAMPLE_RATE = 44100
#: File names ``console train-emulator`` writes; a folder given after ``@`` is searched for these.
CHECKPOINT_NAMES = ("best.pt", "emulator.pt")


def resolve_checkpoint(
    weights: str | Path,
    names: Sequence[str] = CHECKPOINT_NAMES,
    writer: str = "`console train-emulator --out`",
) -> Path:
    """The checkpoint file meant by ``weights``: the file itself, or a run folder's best one."""
    path = Path(weights).expanduser()
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise CheckpointError(
            f"{path} holds no emulator checkpoint ({' or '.join(names)}); point to "
            f"the folder {writer} wrote, or to a .pt file."
        )
    if not path.is_file():
        raise CheckpointError(f"The emulator checkpoint {path} does not exist.")
    return path


def read_checkpoint(path: Path, effect: Any) -> dict[str, Any]:
    """Load and check an emulator checkpoint for ``effect``; errors name the file."""
    if not path.is_file():
        raise CheckpointError(
            f"{effect.name}: its weights {path} are missing; reinstall console, pass a "
            f"checkpoint ({effect.name}@PATH) or use {effect.dsp_reference}."
        )
    data = read_checkpoint_file(path, "emulator checkpoint")
    if not isinstance(data, dict) or data.get("format") != EMULATOR_FORMAT:
        raise CheckpointError(f"{path} is not an emulator checkpoint of console train-emulator.")
    if data.get("format_version") != EMULATOR_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has emulator format {data.get('format_version')!r}; this console reads "
            f"format {EMULATOR_FORMAT_VERSION}. Upgrade the console package."
        )
    if data.get("family") != effect.family:
        raise CheckpointError(
            f"{path} emulates {data.get('family')!r}, not {effect.family!r}; use it as "
            f"{emulator_for(data)}@{path}."
        )
    if not isinstance(data.get("config"), dict):
        raise CheckpointError(f"{path} has no network config; it is damaged: retrain it.")
    state_dict_of(data, str(path))
    names = [p.get("name") for p in data.get("params", []) if isinstance(p, dict)]
    if names != [spec.name for spec in effect.params]:
        raise CheckpointError(
            f"{path} was trained with the parameters {names}, but {effect.name} has "
            f"{[spec.name for spec in effect.params]}; retrain it with this version."
        )
    return data


def emulator_for(data: dict[str, Any]) -> str:
    """The registered emulator that runs a checkpoint's network: its family's of that kind."""
    from console.plugins import get_plugins

    family = data.get("family")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    kind = config.get("network", "tcn")
    for component in get_plugins().registry("effect").values():
        if component.family == family and getattr(component.factory, "network_kind", "") == kind:
            return component.name
    return f"{family}:{'tcn' if kind == 'tcn' else 'greybox'}"


def write_checkpoint(
    effect: Any, path: str | Path, info: dict[str, Any] | None, internal_rate: int | None
) -> None:
    """Write ``effect``'s network as a checkpoint :func:`read_checkpoint` accepts, atomically."""
    data = {
        "format": EMULATOR_FORMAT,
        "format_version": EMULATOR_FORMAT_VERSION,
        "family": effect.family,
        "effect": effect.name,
        "params": [attrs.asdict(spec) for spec in effect.params],
        "sample_rate": EMULATOR_SAMPLE_RATE,
        "internal_rate": internal_rate,
        "config": effect.network.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in effect.network.state_dict().items()},
        "info": dict(info or effect.checkpoint_info),
    }
    atomic_write(path, lambda tmp: torch.save(data, tmp))
