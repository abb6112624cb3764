"""Measure the root pitch of recorded one-shot samples, and tell single notes from phrases.

For every recording it prints:

- its length and its onsets (peaks of the log-spectral flux, 80 ms apart; a pad
  with a slow tremolo counts a few too);
- ``notes``: how many pitches a YIN pitch track (de Cheveigné & Kawahara 2002,
  written here in numpy) holds for 80 ms or more, rounded to semitones;
- ``yin``: the median of that track over the sustained part (60 ms after the
  peak until the level falls 20 dB below it), as a MIDI number;
- ``partials``: the spectral peaks of the sustained part at least a quarter of the
  strongest, lowest first (a triad shows its three notes: 60 64 67);
- ``root``: ``yin``, except where the lowest strong partial lies an octave and a half
  or more above it: nothing sounds there, so ``yin`` is the common period of a chord
  (a power chord or a triad) and the root is that pitch class in the octave of the
  chord's lowest strong partial (flagged ``chord``);
- ``harm``: the share of the sustained spectrum within a quarter-tone of a harmonic
  of ``yin``, near 1 for pitched recordings.

    python scripts/measure_sample_pitches.py               # the sample sets' tables
    python scripts/measure_sample_pitches.py --set lmms    # one set
    python scripts/measure_sample_pitches.py --set lmms --survey   # every file of its folder

The table form measures the files each table of ``console.data.samples`` names
and prints it again in its own layout, pitched roles with the measured root,
each row with its measurements and ``shift``: the semitones from the root to the
median note the role plays in generated band sessions. A minute or two on one thread.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from console.data.samples import PITCHED_ROLES, SAMPLE_SETS, SampleSet, candidate_role

FRAME = 2048
HOP = 256
FMIN, FMAX = 30.0, 2000.0


def load(path: Path) -> tuple[np.ndarray, int] | None:
    """The file as mono float64, or ``None`` where soundfile cannot read it."""
    try:
        data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError):
        return None
    return data.mean(axis=1), int(rate)


def frames_of(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    if x.shape[0] < length:
        x = np.pad(x, (0, length - x.shape[0]))
    count = 1 + (x.shape[0] - length) // hop
    index = np.arange(length)[None, :] + hop * np.arange(count)[:, None]
    return x[index]


def yin(x: np.ndarray, rate: int, threshold: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: f0 in Hz (0 where unvoiced) and the aperiodicity (CMND at the chosen lag)."""
    max_lag = int(rate / FMIN)
    min_lag = max(2, int(rate / FMAX))
    window = FRAME
    frames = frames_of(x, window + max_lag, HOP)
    n = frames.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(frames, size)
    head = np.fft.rfft(frames[:, :window], size)
    # r(tau) = sum_{j<W} x_j x_{j+tau}
    corr = np.fft.irfft(np.conj(head) * spectrum, size)[:, : max_lag + 1]
    squares = np.cumsum(np.pad(frames ** 2, ((0, 0), (1, 0))), axis=1)
    energy0 = squares[:, window][:, None]
    lags = np.arange(max_lag + 1)
    energy_tau = squares[:, lags + window] - squares[:, lags]
    diff = np.maximum(energy0 + energy_tau - 2 * corr, 0.0)
    cumulative = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(cumulative, 1e-12)
    f0 = np.zeros(frames.shape[0])
    aperiodicity = np.ones(frames.shape[0])
    for i, row in enumerate(cmnd):
        below = np.nonzero(row[min_lag:max_lag] < threshold)[0]
        if below.size:
            lag = min_lag + below[0]
            while lag + 1 < max_lag and row[lag + 1] < row[lag]:
                lag += 1
        else:
            lag = min_lag + int(np.argmin(row[min_lag:max_lag]))
        a, b, c = row[lag - 1], row[lag], row[lag + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        f0[i] = rate / (lag + np.clip(shift, -1, 1))
        aperiodicity[i] = b
    return f0, aperiodicity


def levels_db(x: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(frames_of(x, FRAME, HOP) ** 2, axis=1)) + 1e-12
    return 20 * np.log10(rms / rms.max())


def onsets(x: np.ndarray, rate: int) -> int:
    """Attacks: peaks of the log-spectral flux well above its running median, 80 ms apart."""
    frames = frames_of(np.pad(x, (FRAME // 2, 0)), FRAME, HOP) * np.hanning(FRAME)
    magnitude = np.log1p(100 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(magnitude, axis=0, prepend=0.0), 0.0).sum(axis=1)
    level = levels_db(np.pad(x, (FRAME // 2, 0)))[: flux.shape[0]]
    flux = flux / (flux.max() + 1e-12)
    gap = int(0.08 * rate / HOP)
    found = []
    for i in range(flux.shape[0]):
        lo, hi = max(0, i - gap), min(flux.shape[0], i + gap + 1)
        local = np.median(flux[max(0, i - 4 * gap): i + 4 * gap + 1])
        if (flux[i] == flux[lo:hi].max() and flux[i] > local + 0.15 and level[i] > -35
                and (not found or i - found[-1] >= gap)):
            found.append(i)
    return len(found)


def spectral_peaks(x: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """(MIDI pitch, level relative to the strongest) of the partials from 40 Hz to 3 kHz."""
    size = 1 << 17
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.shape[0]), size))
    freqs = np.fft.rfftfreq(size, 1 / rate)
    spectrum[(freqs < 40) | (freqs > 3000)] = 0.0
    top = spectrum.max() + 1e-20
    local = (spectrum[1:-1] > spectrum[:-2]) & (spectrum[1:-1] >= spectrum[2:])
    index = 1 + np.nonzero(local & (spectrum[1:-1] > 0.1 * top))[0]
    return [(float(69 + 12 * np.log2(freqs[i] / 440.0)), float(spectrum[i] / top)) for i in index]


def measure(path: Path) -> dict[str, object] | None:
    """Length, onsets, held pitches and root pitch of one recording (``None``: unreadable)."""
    loaded = load(path)
    if loaded is None:
        return None
    x, rate = loaded
    level = levels_db(x)
    peak = int(np.argmax(level))
    start = peak + int(0.06 * rate / HOP)
    quiet = np.nonzero(level[start:] < -20)[0]
    stop = start + (int(quiet[0]) if quiet.size else level.shape[0] - start)
    f0, aperiodicity = yin(x, rate)
    count = min(f0.shape[0], level.shape[0])
    good = (aperiodicity[:count] < 0.3) & (level[:count] > -30)
    voiced = np.zeros(count, dtype=bool)
    voiced[start:stop] = True
    voiced &= good
    result: dict[str, object] = {
        "seconds": x.shape[0] / rate, "onsets": onsets(x, rate), "notes": 0,
        "voiced": float(voiced.sum()) / max(1, stop - start),
        "yin": None, "root": None, "lowest": None, "chord": False, "harm": None,
        "partials": [],
    }
    if voiced.sum() < 3:
        return result
    yin_pitch = float(np.median(69 + 12 * np.log2(f0[:count][voiced] / 440.0)))
    result["yin"] = yin_pitch
    # held pitches: runs of the semitone-rounded track lasting at least 80 ms
    rounded = np.round(69 + 12 * np.log2(np.maximum(f0[:count], 1.0) / 440.0))
    held, run, last = set(), 0, None
    for value, ok in zip(rounded, good, strict=True):
        run = run + 1 if ok and value == last else (1 if ok else 0)
        last = value if ok else None
        if run * HOP >= 0.08 * rate:
            held.add(int(value))
    result["notes"] = len(held)
    sustained = x[peak * HOP + int(0.06 * rate): min(stop * HOP + FRAME, peak * HOP + rate)]
    if sustained.shape[0] < FRAME:
        result["root"] = yin_pitch
        return result
    peaks = spectral_peaks(sustained, rate)
    strong = sorted({round(p) for p, a in peaks if a >= 0.25})
    result["partials"] = strong[:5]
    lowest = min((p for p, a in peaks if a >= 0.25), default=yin_pitch)
    result["lowest"] = lowest
    root = yin_pitch
    if lowest - yin_pitch >= 18:
        # Nothing sounds at YIN's pitch: it is the common period of a chord (a power
        # chord or a triad), whose root is that pitch class; the chord's lowest strong
        # partial gives the octave.
        root = yin_pitch + 12 * np.ceil((lowest - 0.5 - yin_pitch) / 12)
        result["chord"] = True
    result["root"] = float(root)
    f = 440.0 * 2 ** ((yin_pitch - 69) / 12)
    spectrum = np.abs(np.fft.rfft(sustained * np.hanning(sustained.shape[0]))) ** 2
    freqs = np.fft.rfftfreq(sustained.shape[0], 1 / rate)
    band = (freqs > 0.5 * f) & (freqs < 8000)
    ratio = freqs[band] / f
    near = np.abs(12 * np.log2(np.maximum(ratio, 1e-6) / np.maximum(np.round(ratio), 1))) < 0.5
    result["harm"] = float(spectrum[band][near].sum() / (spectrum[band].sum() + 1e-20))
    return result


def describe(name: str, m: dict[str, object] | None) -> str:
    if m is None:
        return f"{name:42s} unreadable by soundfile"

    def number(key: str) -> str:
        return "    - " if m[key] is None else f"{m[key]:6.1f}"

    harm = "   - " if m["harm"] is None else f"{m['harm']:5.2f}"
    return (f"{name:42s} {m['seconds']:5.2f}s onsets {m['onsets']:2d} notes {m['notes']:2d} "
            f"yin {number('yin')} lowest {number('lowest')} root {number('root')}"
            f"{' chord' if m['chord'] else '      '} harm {harm} partials "
            f"{' '.join(str(p) for p in m['partials']) or '-'}")


def registers(songs: int = 100) -> dict[str, float]:
    """The median MIDI pitch each melodic role plays in generated band sessions."""
    from console.data.band import make_multitrack

    pitches: dict[str, list[float]] = {}
    for seed in range(songs):
        for part in make_multitrack(np.random.default_rng(seed), 8.0, "band").parts:
            pitches.setdefault(part.role, []).extend(n.pitch for n in part.notes)
    return {role: float(np.median(p)) for role, p in pitches.items()}


def table(sample_set: SampleSet) -> None:
    folder = sample_set.folder()
    print(f"# {sample_set.name}: {folder}")
    if folder is None:
        print("#   not installed")
        return
    medians = registers()
    print("# shift: semitones from the root to the median note the role plays")
    print(f"{sample_set.name.upper().replace('-', '_')}_CANDIDATES = {{")
    for role, entries in sample_set.candidates.items():
        print(f"    {role!r}: (")
        for stem, held in entries:
            path = folder / f"{stem}{sample_set.extension}"
            m = measure(path) if path.is_file() else None
            if m is None:
                print(f"        # {stem}: missing or unreadable")
                continue
            pitch = None
            if candidate_role(role) in PITCHED_ROLES and m["root"] is not None:
                pitch = round(float(m["root"]), 1)
            note = "" if held == pitch else f" (the table: {held})"
            shift = ""
            if pitch is not None and candidate_role(role) in medians:
                shift = f" shift {medians[candidate_role(role)] - pitch:+.0f}"
            print(f"        ({stem!r}, {pitch}),  #{note}{shift} {describe('', m).strip()}")
        print("    ),")
    print("}")


def survey(sample_set: SampleSet) -> None:
    folder = sample_set.folder()
    if folder is None:
        print(f"# {sample_set.name}: not installed")
        return
    for path in sorted(folder.rglob(f"*{sample_set.extension}")):
        if any(part in sample_set.skip_folders for part in path.relative_to(folder).parts):
            continue
        print(describe(str(path.relative_to(folder).with_suffix("")), measure(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SAMPLE_SETS), action="append",
                        help="a sample set (default: all)")
    parser.add_argument("--survey", action="store_true",
                        help="measure every file of the set's folder, not only the table's")
    args = parser.parse_args()
    for name in args.set or SAMPLE_SETS:
        (survey if args.survey else table)(SAMPLE_SETS[name])


if __name__ == "__main__":
    main()
