"""Instrument roles: a small vocabulary the engineer's rules and the loaders share."""

from __future__ import annotations

import re

#: Every role a loader may assign, in the order a mixing engineer thinks of them.
ROLES = (
    "drums", "kick", "snare", "hihat", "tom", "overhead", "percussion",
    "bass", "keys", "guitar", "lead", "vocals", "strings", "pad", "brass", "other",
)

# The first pattern that matches a name decides its role; order matters
# ("bass drum" is a kick, "bass" alone is a bass).
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("drums", r"drum set|drum kit|^drums?$"),
    ("kick", r"kick|bass[ _-]?drum|\bbd\b|bd_"),
    ("snare", r"snare|\bsd\b"),
    ("hihat", r"hi[ _-]?hat|\bhh\b|hihat"),
    ("tom", r"\btoms?\b|tom[ _-]?\d"),
    ("overhead", r"overhead|\boh\b|room|cymbal"),
    ("percussion", r"perc|shaker|tambourine|conga|bongo|cowbell|clap|tabla|timpani"),
    ("bass", r"bass"),
    ("keys", r"piano|keys|keyboard|organ|synth|rhodes|pad|harpsichord|accordion"),
    ("guitar", r"guitar|gtr|banjo|mandolin|ukulele|harp"),
    ("vocals", r"vocal|voice|singer|vox|choir|rap"),
    ("lead", r"lead|melody|solo|violin|viola|cello|flute|sax|trumpet|trombone|clarinet"
             r"|horn|oboe|string|brass|fiddle|harmonica"),
)


def guess_role(name: str) -> str:
    """The role of a track from its name or instrument label; ``"other"`` when unsure."""
    text = name.lower().replace("-", " ")
    for role, pattern in _PATTERNS:
        if re.search(pattern, text):
            return role
    return "other"
