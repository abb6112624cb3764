"""The record every loader produces: one song's stem files, its mix file and their roles."""

from __future__ import annotations

from pathlib import Path

import attrs

from console.data.roles import ROLES


def _to_paths(values: object) -> tuple[Path, ...]:
    return tuple(Path(v) for v in values)  # type: ignore[union-attr]


@attrs.frozen
class Song:
    """One multitrack song on disk, whatever the dataset's layout.

    ``stem_names`` label the tracks (they become the track names of a
    ``params.json``); ``roles`` come from :data:`~console.data.roles.ROLES`;
    ``group`` keeps songs together when splitting (a drummer, an artist) and
    defaults to the song's own name.
    """

    name: str
    stems: tuple[Path, ...] = attrs.field(converter=_to_paths)
    stem_names: tuple[str, ...] = attrs.field(converter=tuple)
    roles: tuple[str, ...] = attrs.field(converter=tuple)
    mix: Path = attrs.field(converter=Path)
    dataset: str = "folder"
    group: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.stems:
            raise ValueError(f"Song {self.name!r} has no stems.")
        if not len(self.stems) == len(self.stem_names) == len(self.roles):
            raise ValueError(
                f"Song {self.name!r}: {len(self.stems)} stems, {len(self.stem_names)} names "
                f"and {len(self.roles)} roles; give one name and one role per stem."
            )
        unknown = sorted(set(self.roles) - set(ROLES))
        if unknown:
            raise ValueError(f"Song {self.name!r}: unknown roles {unknown}; use {ROLES}.")

    @property
    def split_key(self) -> str:
        """What a split keeps together: the group when there is one, else the song."""
        return self.group or self.name

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the song reads, the mix last."""
        return (*self.stems, self.mix)
