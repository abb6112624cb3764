"""How far Ardour's render of an exported mix is from ``console render``, per effect.

For every variant of the EQ, compressor and reverb (``:dsp``, ``:greybox``, ``:tcn``)
and the default chain: ``console export`` of ``gain+EFFECT+pan`` over four
deterministic stems (tests/test_export_ardour.py's session and settings), rendered
by Ardour's own exporter (``ardour7-export``) and by ``console render``, then
compared: the largest level difference of a channel (dB), the largest residual
(dB below the render) and the mean absolute difference of the 50 ms envelope of
the mono sum (dB, frames within 60 dB of the loudest). The compressors are measured
twice: at the tests' moderate settings and at strong ones (threshold -36 dB, ratio
8, attack 5 ms, release 60 ms, knee 6 dB, make-up 6 dB on every track).

Needs Ardour and its LV2 plugins (Debian ``ardour``, ``ardour-lv2-plugins``).
Run: ``python benchmarks/bench_export_mapping.py [--rst FILE]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tables import markdown_table, rst_list_table  # noqa: E402
from tests.test_export_ardour import RATE, SETTINGS, write_session  # noqa: E402

from console.chain import EffectChain  # noqa: E402
from console.cli.main import main as console  # noqa: E402
from console.export.ardour_tools import render_with_ardour  # noqa: E402
from console.export.compare import compare_renders  # noqa: E402

STRONG = {"threshold_db": -36.0, "ratio": 8.0, "attack_ms": 5.0, "release_ms": 60.0,
          "knee_db": 6.0, "makeup_db": 6.0}
ROWS = [
    *[(f"gain+{family}:{variant}+pan", False) for family in ("eq", "comp", "reverb")
      for variant in ("dsp", "greybox", "tcn")],
    *[(f"gain+comp:{variant}+pan", True) for variant in ("dsp", "greybox", "tcn")],
    ("gain+eq+comp+reverb+pan", False), ("gain+eq+comp+reverb+pan", True),
]


def envelope_db(audio: np.ndarray, frame: int = RATE // 20) -> np.ndarray:
    mono = audio.sum(axis=1)
    frames = mono[: len(mono) // frame * frame].reshape(-1, frame)
    return 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12)


def measure(stems: Path, work: Path, spec: str, strong: bool) -> dict[str, float]:
    chain = EffectChain.from_spec(spec)
    names = sorted(p.name for p in stems.iterdir())
    tracks = []
    for name in names:
        effects: dict[str, dict[str, float]] = {}
        for slot in chain.layout:
            effects.setdefault(slot.effect_key, {})[slot.spec.name] = slot.spec.default
        for key, value in SETTINGS[name].items():
            effect, param = key.split(".")
            if effect in effects:
                effects[effect][param] = value
        if strong:
            effects["comp"].update(STRONG)
        tracks.append({"name": name, "effects": effects})
    data = {"format": "console-mix-params", "version": 2, "spec": spec, "sample_rate": RATE,
            "master": None, "tracks": tracks}
    (work / "p.json").write_text(json.dumps(data))
    assert console(["export", str(stems), str(work / "p.json"), "-o", str(work / "session"),
                    "-q", "--no-master"]) == 0
    assert console(["render", str(stems), str(work / "p.json"), "-o", str(work / "ours.wav"),
                    "-q", "--no-master"]) == 0
    rendered = render_with_ardour(work / "session", work / "ardour.wav", timeout=300)
    theirs, _ = sf.read(rendered, always_2d=True)
    ours, _ = sf.read(work / "ours.wav", always_2d=True)
    comparison = compare_renders(ours.T, theirs.T)
    mine, other = envelope_db(ours), envelope_db(theirs)
    heard = mine > mine.max() - 60.0
    return {"level_db": comparison.worst_level_db, "residual_db": comparison.worst_residual_db,
            "envelope_db": float(np.abs(other - mine)[heard].mean()), "lag": comparison.lag}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rst", help="also write the table as a reStructuredText list-table")
    args = parser.parse_args()
    print(f"bench_export_mapping {datetime.date.today()}: Ardour's render against console "
          f"render, command: python benchmarks/bench_export_mapping.py "
          f"{' '.join(sys.argv[1:])}".rstrip(), flush=True)
    header = ["chain", "compressor settings", "level dB (worst channel)", "residual dB",
              "50 ms envelope dB (mean)"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stems = Path(tmp) / "stems"
        write_session(stems)
        for n, (spec, strong) in enumerate(ROWS):
            work = Path(tmp) / f"row{n}"
            work.mkdir()
            r = measure(stems, work, spec, strong)
            rows.append([spec, "strong" if strong else ("the tests'" if "comp" in spec
                                                          or spec.count("+") > 3 else "-"),
                         f"{r['level_db']:.2f}", f"{r['residual_db']:.1f}",
                         f"{r['envelope_db']:.2f}"])
            print(f"  {spec} ({'strong' if strong else 'moderate'}): {r}", flush=True)
    print("\n" + markdown_table(header, rows))
    if args.rst:
        with open(args.rst, "w") as f:
            f.write(rst_list_table(header, rows))


if __name__ == "__main__":
    main()
