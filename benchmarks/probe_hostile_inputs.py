"""Probe every ``console`` verb with hostile or unusual inputs a new user could give (issue 21).

Each case builds what it needs in a scratch folder, runs the real CLI in a subprocess
(as a user would) and judges what happened:

- ``ok``: a clear one-line error (exit 2, ``console VERB: error: ...``, no traceback), or
  the expected output with exit 0; and nothing the user had was lost or changed;
- ``BAD``: a traceback, a crash or a run killed for time or memory, a file the user
  had that was replaced or deleted, a leftover that no run removes, or wrong output
  with exit 0.

It prints a Markdown table with the verdict of each case and exits 1 if any case is
``BAD``. Not part of the test suite: the ~100 cases take about ten minutes on one
CPU thread. The regression tests for what it found live in ``tests/test_input_checks.py``
and ``tests/test_writer_manifest.py``.

    python benchmarks/probe_hostile_inputs.py              # every case
    python benchmarks/probe_hostile_inputs.py -k plot -k render   # titles matching
    python benchmarks/probe_hostile_inputs.py --keep       # keep the scratch folder
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 8000
SECONDS = 1.5
#: A case that runs longer than this is killed and judged BAD (an option that makes
#: console build something enormous, or hang).
TIMEOUT_S = 240


# -- running the CLI -------------------------------------------------------------------------


def console_command() -> list[str]:
    script = Path(sys.executable).parent / "console"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from console.cli.main import main; raise SystemExit(main())"]


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    @property
    def last_line(self) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""


@dataclass
class Verdict:
    ok: bool
    note: str = ""


@dataclass
class Case:
    verb: str
    title: str
    body: Callable[[Probe], Verdict]


@dataclass
class Row:
    number: int
    verb: str
    title: str
    command: str
    returncode: int | str
    last_line: str
    verdict: Verdict


CASES: list[Case] = []


def case(verb: str, title: str) -> Callable[[Callable[[Probe], Verdict]], Callable]:
    def register(body: Callable[[Probe], Verdict]) -> Callable:
        CASES.append(Case(verb, title, body))
        return body
    return register


@dataclass
class Probe:
    """What a case works with: its own scratch folder, shared fixtures, and the CLI."""

    root: Path
    fixtures: Fixtures
    results: list[Result] = field(default_factory=list)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def run(self, *args: object, env: dict[str, str] | None = None,
            timeout: float = TIMEOUT_S) -> Result:
        argv = [str(a) for a in args]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [*console_command(), *argv], cwd=self.root, capture_output=True, text=True,
                timeout=timeout, env={**base_env(), **(env or {})},
            )
            result = Result(argv, done.returncode, done.stdout, done.stderr,
                            time.perf_counter() - start)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
                else (exc.stderr or "")
            result = Result(argv, -9, "", stderr + f"\n[killed by the probe after {timeout} s]",
                            time.perf_counter() - start)
        self.results.append(result)
        return result

    def start(self, *args: object) -> subprocess.Popen:
        return subprocess.Popen(
            [*console_command(), *[str(a) for a in args]], cwd=self.root,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=base_env(),
        )

    def copy_stems(self, name: str = "stems") -> Path:
        target = self.path(name)
        shutil.copytree(self.fixtures.stems, target)
        return target


def base_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


# -- judging -----------------------------------------------------------------------------


def crashed(result: Result) -> Verdict | None:
    """BAD for any traceback, kill or exit status other than 0 (done) and 2 (refused)."""
    if result.traceback:
        return Verdict(False, "traceback")
    if result.returncode not in (0, 2):
        return Verdict(False, f"exit {result.returncode}")
    return None


def refused(result: Result, *words: str) -> Verdict:
    """A clear one-line refusal (naming ``words``) and no traceback."""
    if bad := crashed(result):
        return bad
    if result.returncode != 2:
        return Verdict(False, "accepted (exit 0) where a refusal was due")
    line = result.last_line
    if ": error:" not in line:
        return Verdict(False, "no one-line error")
    missing = [w for w in words if w.lower() not in line.lower()]
    if missing:
        return Verdict(False, f"the error does not name {missing}")
    return Verdict(True, "refused in one line")


def done(result: Result, *outputs: Path) -> Verdict:
    """Exit 0 with every output in place."""
    if bad := crashed(result):
        return bad
    if result.returncode != 0:
        return Verdict(False, f"refused: {result.last_line}")
    absent = [p.name for p in outputs if not p.exists()]
    if absent:
        return Verdict(False, f"exit 0 but {absent} missing")
    return Verdict(True, "done")


def both(*verdicts: Verdict) -> Verdict:
    for v in verdicts:
        if not v.ok:
            return v
    return Verdict(True, "; ".join(v.note for v in verdicts if v.note))


def snapshot(*roots: Path) -> dict[str, str]:
    """Path to SHA-256 of every file below ``roots`` (the user's data before a run)."""
    found = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in paths:
            found[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def kept(before: dict[str, str]) -> Verdict:
    """Every file of ``before`` still there, unchanged."""
    lost = [Path(p).name for p, h in before.items()
            if not Path(p).is_file() or hashlib.sha256(Path(p).read_bytes()).hexdigest() != h]
    if lost:
        return Verdict(False, f"LOST or changed: {lost[:3]}")
    return Verdict(True, "")


def leftovers(folder: Path, pattern: str = ".*") -> list[str]:
    return sorted(p.name for p in folder.glob(pattern)
                  if p.name.startswith(".") and p.name != ".console-manifest.json"
                  and (".tmp" in p.name or ".building" in p.name or ".replaced" in p.name))


def frames(path: Path) -> int:
    return sf.info(str(path)).frames


# -- fixtures ----------------------------------------------------------------------------


def tone(freq: float, seconds: float = SECONDS, rate: int = RATE, channels: int = 1
         ) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    x = x.astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_stems(folder: Path, names: Iterable[str] = ("kick", "bass", "keys")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        sf.write(folder / f"{name}.wav", tone(60.0 * (i + 1) * 1.7), RATE, subtype="PCM_16")
    return folder


class Fixtures:
    """Shared inputs, each built once on first use (through the CLI, as a user would)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.stems = write_stems(root / "stems")
        self._cache: dict[str, Path] = {}
        self._probe = Probe(root, self)

    def _once(self, key: str, build: Callable[[], Path]) -> Path:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _check(self, result: Result, what: str) -> None:
        if result.returncode != 0:
            raise RuntimeError(f"fixture {what} failed: {result.stderr[-2000:]}")

    @property
    def params(self) -> Path:
        """``mix.params.json`` of the stems, written by ``console mix``."""
        def build() -> Path:
            r = self._probe.run("mix", self.stems, "-o", self.root / "mix" / "mix.wav", "-q")
            self._check(r, "mix")
            return self.root / "mix" / "mix.params.json"
        return self._once("params", build)

    @property
    def data(self) -> Path:
        def build() -> Path:
            r = self._probe.run("make-sessions", self.root / "data", "--n", 3, "--duration", 1,
                                "--sample-rate", RATE, "--source", "procedural")
            self._check(r, "make-sessions")
            return self.root / "data"
        return self._once("data", build)

    @property
    def evaluation(self) -> Path:
        def build() -> Path:
            r = self._probe.run("evaluate", self.data, "--systems", "mono,loudness", "--out",
                                self.root / "eval", "--subset", "all", "--no-progress",
                                "--excerpt-seconds", 1, "--no-plots", "--sample-rate", RATE)
            self._check(r, "evaluate")
            return self.root / "eval"
        return self._once("evaluation", build)

    @property
    def checkpoint(self) -> Path:
        def build() -> Path:
            r = self._probe.run(*train_args(self.data, self.root / "run", steps=1))
            self._check(r, "train")
            return self.root / "run" / "console.pt"
        return self._once("checkpoint", build)

    @property
    def emulator_audio(self) -> Path:
        def build() -> Path:
            folder = self.root / "recordings"
            write_stems(folder, [f"take{i}" for i in range(12)])
            return folder
        return self._once("emulator_audio", build)


def train_args(data: Path, out: Path, steps: int = 1, *extra: object) -> list[object]:
    return ["train", "--data", data, "--out", out, "--steps", steps, "--batch-size", 1,
            "--sample-rate", RATE, "--segment-seconds", 1, "--split", "1,0,0", "--no-progress",
            *extra]


def emulator_args(audio: Path, out: Path, *extra: object) -> list[object]:
    return ["train-emulator", "eq:greybox", "--out", out, "--audio", audio, "--steps", 1,
            "--response-steps", 0, "--batch-size", 1, "--val-examples", 1, "--no-progress",
            *extra]


def results_file(path: Path, participant: str = "p1", test_id: str = "t0",
                 started: str = "2024-01-01T10:00:00Z", mono: float = 40.0,
                 edit: Callable[[dict], None] | None = None, text: str | None = None) -> Path:
    trials = [{"song": f"s{i}", "order": ["mono", "reference"],
               "ratings": {"mono": mono + i, "reference": 100.0}} for i in range(3)]
    data = {"format": "console-listening-results", "version": 1, "test_id": test_id,
            "participant": participant, "started": started, "trials": trials}
    if edit is not None:
        edit(data)
    path.write_text(text if text is not None else json.dumps(data), encoding="utf-8")
    return path


def edited_params(p: Probe, name: str, edit: Callable[[dict], None] | None = None,
                  text: Callable[[str], str] | None = None) -> Path:
    """A copy of the fixture params file, edited as a user might."""
    source = p.fixtures.params.read_text(encoding="utf-8")
    if edit is not None:
        data = json.loads(source)
        edit(data)
        source = json.dumps(data, indent=2)
    if text is not None:
        source = text(source)
    target = p.path(name)
    target.write_text(source, encoding="utf-8")
    return target


def first_gain(data: dict) -> dict:
    return data["tracks"][0]["effects"]["gain"]


# == mix ======================================================================================


def mixes_the_three_stems(p: Probe, stems: Path) -> Verdict:
    """``console mix`` of the folder succeeds and its params file lists the 3 stems alone."""
    out = p.path("m", "mix.wav")
    verdict = done(p.run("mix", stems, "-o", out, "-q"), out)
    if not verdict.ok:
        return verdict
    names = [t["name"] for t in json.loads(out.with_name("mix.params.json").read_text())["tracks"]]
    if len(names) != 3:
        return Verdict(False, f"mixed {names}, not the 3 stems")
    return verdict


@case("mix", "stem and output names with unicode, spaces, emoji and a leading dash")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems("stems ünï")
    (stems / "kick.wav").rename(stems / "-Kick drüm 🥁.wav")
    out = p.path("out dir", "mïx ünï.wav")
    return done(p.run("mix", stems, "-o", out, "-q"), out, out.with_name("mïx ünï.params.json"))


@case("mix", "an output name that starts with a dash (--output=-mix.wav)")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    return done(p.run("mix", stems, "--output=-mix.wav", "-q"), p.path("-mix.wav"))


@case("mix", "an output name of 250 characters (its params file name is too long)")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    return refused(p.run("mix", stems, "-o", p.path("a" * 246 + ".wav"), "-q"), "long")


@case("mix", "a stems folder name of 300 characters (too long to exist)")
def _(p: Probe) -> Verdict:
    return refused(p.run("mix", p.path("s" * 300), "-o", p.path("m.wav"), "-q"), "too long")


@case("mix", "a stem file name of 251 characters")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    (stems / "kick.wav").rename(stems / ("k" * 247 + ".wav"))
    out = p.path("m", "mix.wav")
    return done(p.run("mix", stems, "-o", out, "-q"), out)


@case("mix", "a zero-byte stem file")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    (stems / "empty.wav").write_bytes(b"")
    return refused(p.run("mix", stems, "-o", p.path("m.wav"), "-q"), "empty.wav")


@case("mix", "a valid WAV header with no samples")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    sf.write(stems / "nothing.wav", np.zeros(0, np.float32), RATE)
    return refused(p.run("mix", stems, "-o", p.path("m.wav"), "-q"), "nothing.wav")


@case("mix", "a text file named .wav among the stems")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    (stems / "notes.wav").write_text("take 3 was the good one\n")
    return refused(p.run("mix", stems, "-o", p.path("m.wav"), "-q"), "notes.wav")


@case("mix", "6-channel, 8-bit, 24-bit 11 kHz, float64 16 kHz, stereo FLAC and Ogg stems")
def _(p: Probe) -> Verdict:
    stems = p.path("formats")
    stems.mkdir()
    x = tone(220.0)
    sf.write(stems / "six.wav", tone(110.0, channels=6), RATE)
    sf.write(stems / "u8.wav", x, RATE, subtype="PCM_U8")
    sf.write(stems / "p24.wav", tone(330.0, rate=11025), 11025, subtype="PCM_24")
    sf.write(stems / "f64.wav", tone(440.0, rate=16000), 16000, subtype="DOUBLE")
    sf.write(stems / "st.flac", tone(550.0, channels=2), RATE)
    sf.write(stems / "o.ogg", tone(660.0), RATE)
    out = p.path("m", "mix.wav")
    verdict = done(p.run("mix", stems, "-o", out, "-q"), out)
    if verdict.ok and sf.info(str(out)).samplerate != 16000:
        return Verdict(False, "mixed at another rate than the highest (16000)")
    return verdict


@case("mix", "a WAV file with a .flac extension, and stems named .WAV / .Wav")
def _(p: Probe) -> Verdict:
    stems = p.path("odd")
    stems.mkdir()
    sf.write(stems / "a.flac", tone(110.0), RATE, format="WAV")
    sf.write(stems / "B.WAV", tone(220.0), RATE)
    sf.write(stems / "c.Wav", tone(330.0), RATE)
    return mixes_the_three_stems(p, stems)


@case("mix", "hidden files among the stems (.DS_Store, AppleDouble ._kick.wav)")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    (stems / ".DS_Store").write_bytes(b"\0\0\0\1Bud1junk")
    (stems / "._kick.wav").write_bytes(b"\0\5\26\7\0\2\0\0Mac OS X        ")
    return mixes_the_three_stems(p, stems)


@case("mix", "stems in a subfolder and an .mp3 stem (not mixed: must be said)")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    write_stems(stems / "drums", ["snare", "hat"])
    shutil.copyfile(stems / "bass.wav", stems / "vocals.mp3")
    out = p.path("m", "mix.wav")
    result = p.run("mix", stems, "-o", out, "-q")
    verdict = done(result, out)
    if verdict.ok and not ("drums" in result.stderr and "vocals.mp3" in result.stderr):
        return Verdict(False, "exit 0 and drums/, vocals.mp3 left out without a word")
    return verdict


@case("mix", "an empty stems folder")
def _(p: Probe) -> Verdict:
    p.path("empty").mkdir()
    return refused(p.run("mix", p.path("empty"), "-o", p.path("m.wav"), "-q"), "empty")


@case("mix", "a stems 'folder' that is a file")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    return refused(p.run("mix", stems / "kick.wav", "-o", p.path("m.wav"), "-q"), "kick.wav")


@case("mix", "every stem silent")
def _(p: Probe) -> Verdict:
    stems = p.path("silent")
    stems.mkdir()
    for name in ("a", "b"):
        sf.write(stems / f"{name}.wav", np.zeros(RATE, np.float32), RATE)
    out = p.path("m", "mix.wav")
    result = p.run("mix", stems, "-o", out, "-q")
    verdict = done(result, out)
    if verdict.ok and "silent" not in result.stderr:
        return Verdict(False, "a silent mix without a word")
    return verdict


@case("mix", "40 stems")
def _(p: Probe) -> Verdict:
    stems = write_stems(p.path("many"), [f"t{i:02d}" for i in range(40)])
    out = p.path("m", "mix.wav")
    return done(p.run("mix", stems, "-o", out, "-q"), out)


@case("mix", "stems of one sample each")
def _(p: Probe) -> Verdict:
    stems = p.path("tiny")
    stems.mkdir()
    sf.write(stems / "a.wav", np.array([0.1], np.float32), RATE)
    sf.write(stems / "b.wav", np.array([0.2], np.float32), RATE)
    out = p.path("m", "mix.wav")
    return done(p.run("mix", stems, "-o", out, "-q"), out)


@case("mix", "a float stem holding NaN")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    x = tone(100.0)
    x[100] = np.nan
    sf.write(stems / "nan.wav", x, RATE, subtype="FLOAT")
    return refused(p.run("mix", stems, "-o", p.path("m.wav"), "-q"), "nan.wav")


@case("mix", "-o is a symbolic link to a stem")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    p.path("link.wav").symlink_to(stems / "kick.wav")
    return both(refused(p.run("mix", stems, "-o", p.path("link.wav"), "-q"), "input"),
                kept(before))


@case("mix", "-o is a hard link to a stem")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    os.link(stems / "bass.wav", p.path("hard.wav"))
    return both(refused(p.run("mix", stems, "-o", p.path("hard.wav"), "-q"), "input"),
                kept(before))


@case("mix", "-o into the stems folder through stems/../stems/")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    return both(refused(p.run("mix", "stems", "-o", "stems/../stems/mix.wav", "-q"), "stems"),
                kept(before))


@case("mix", "-o STEMS/kick.wav: a case variant of a stem's path (another folder here)")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    out = p.path("STEMS", "kick.wav")
    return both(done(p.run("mix", "stems", "-o", "STEMS/kick.wav", "-q"), out), kept(before))


@case("mix", "--params names one of the stems")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    return both(refused(p.run("mix", stems, "-o", p.path("m.wav"), "--params",
                              stems / "keys.wav", "-q"), "input"), kept(before))


@case("mix", "-o /dev/full")
def _(p: Probe) -> Verdict:
    return refused(p.run("mix", p.copy_stems(), "-o", "/dev/full", "-q"), "/dev")


@case("mix", "-o mix.mp3 (a format console does not write)")
def _(p: Probe) -> Verdict:
    return refused(p.run("mix", p.copy_stems(), "-o", p.path("mix.mp3"), "-q"), ".wav")


@case("mix", "--sample-rate -8000")
def _(p: Probe) -> Verdict:
    return refused(p.run("mix", p.copy_stems(), "-o", p.path("m.wav"), "--sample-rate=-8000"),
                   "--sample-rate")


@case("mix", "--loudness 1e308 and --ceiling nan")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    return both(refused(p.run("mix", stems, "-o", p.path("m.wav"), "--loudness", "1e308"),
                        "--loudness"),
                refused(p.run("mix", stems, "-o", p.path("m.wav"), "--ceiling", "nan"),
                        "--ceiling"))


@case("mix", "--seed 10^23 with --untrained")
def _(p: Probe) -> Verdict:
    return refused(p.run("mix", p.copy_stems(), "-o", p.path("m.wav"), "--untrained",
                         "--seed", "99999999999999999999999"), "--seed")


@case("mix", "--spec naming an effect that does not exist")
def _(p: Probe) -> Verdict:
    return refused(p.run("mix", p.copy_stems(), "-o", p.path("m.wav"), "--untrained",
                         "--spec", "gain+flanger+pan"), "flanger")


@case("mix", "--checkpoint truncated to 3000 bytes")
def _(p: Probe) -> Verdict:
    p.path("cut.pt").write_bytes(p.fixtures.checkpoint.read_bytes()[:3000])
    return refused(p.run("mix", p.copy_stems(), "-o", p.path("m.wav"), "--checkpoint",
                         p.path("cut.pt")), "cut.pt")


@case("mix", "--checkpoint with NaN weights, a list, or a chain naming an unknown effect")
def _(p: Probe) -> Verdict:
    import torch

    saved = torch.load(p.fixtures.checkpoint, weights_only=False)
    weights = dict(saved["state_dict"])
    first = next(iter(weights))
    weights[first] = weights[first] * float("nan")
    torch.save({**saved, "state_dict": weights}, p.path("nan.pt"))
    torch.save([1, 2, 3], p.path("list.pt"))
    torch.save({**saved, "spec": "gain+flanger"}, p.path("spec.pt"))
    stems = p.copy_stems()
    return both(*(refused(p.run("mix", stems, "-o", p.path("m.wav"), "--checkpoint", p.path(n)),
                          n) for n in ("nan.pt", "list.pt", "spec.pt")))


@case("mix", "a damaged emulator checkpoint in --spec (eq:greybox@broken.pt)")
def _(p: Probe) -> Verdict:
    p.path("broken.pt").write_bytes(b"PK\3\4 this is not a checkpoint")
    return refused(p.run("mix", p.copy_stems(), "-o", p.path("m.wav"), "--untrained", "--spec",
                         "gain+eq:greybox@broken.pt+pan"), "broken.pt")


@case("mix", "kill -9 while the mix is written, then the same command again")
def _(p: Probe) -> Verdict:
    stems = p.path("long")
    stems.mkdir()
    for i in range(4):
        sf.write(stems / f"t{i}.wav", tone(100.0 + 50 * i, seconds=120, rate=16000), 16000,
                 subtype="FLOAT")
    out_dir = p.path("out")
    process = p.start("mix", stems, "-o", out_dir / "mix.wav", "-q")
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if out_dir.is_dir() and any(".tmp" in c.name for c in out_dir.iterdir()):
            break
        time.sleep(0.02)
    if process.poll() is not None:
        return Verdict(False, "the mix ended before it could be killed (probe too slow)")
    process.send_signal(signal.SIGKILL)
    process.wait()
    verdict = done(p.run("mix", stems, "-o", out_dir / "mix.wav", "-q"), out_dir / "mix.wav")
    left = leftovers(out_dir)
    if verdict.ok and left:
        return Verdict(False, f"the killed run's {left[0]} is never removed")
    return verdict


@case("mix", "two mixes to the same -o at once")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    out = p.path("out", "mix.wav")
    runs = [p.start("mix", stems, "-o", out, "-q") for _ in range(2)]
    codes = [r.wait() for r in runs]
    errors = [r.stderr.read() for r in runs]
    if any("Traceback" in e for e in errors) or any(c not in (0, 2) for c in codes):
        return Verdict(False, f"exits {codes}")
    if frames(out) != int(RATE * SECONDS) or leftovers(out.parent):
        return Verdict(False, "a damaged mix or leftovers")
    p.results.append(Result(["mix", "stems", "-o", "out/mix.wav", "(twice at once)"],
                            max(codes), "", errors[-1], 0))
    return Verdict(True, f"exits {codes}; one whole mix")


@case("mix", "mix again after hand-editing MIX.params.json")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    out = p.path("m", "mix.wav")
    first = p.run("mix", stems, "-o", out, "-q")
    if first.returncode:
        return Verdict(False, "first mix failed")
    params = out.with_name("mix.params.json")
    params.write_text(params.read_text().replace('"ceiling_dbfs": -1.0', '"ceiling_dbfs": -3.0'))
    before = snapshot(params)
    return both(refused(p.run("mix", stems, "-o", out, "-q"), "changed"), kept(before))


@case("mix, export, train", "a disk that fills up while writing (a 300 kB tmpfs; as root only)")
def _(p: Probe) -> Verdict:
    small = p.path("small")
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(small)],
                             capture_output=True)
    if mounted.returncode:
        return Verdict(True, "skipped: cannot mount a tmpfs here")
    try:
        (small / "keep.txt").write_text("the user's")
        stems = p.path("long")
        write_stems(stems, ["a", "b"])
        for name in ("a", "b"):
            sf.write(stems / f"{name}.wav", tone(200.0, seconds=20), RATE)
        verdicts = [refused(p.run("mix", stems, "-o", small / "mix.wav", "-q"), "space")]
        mixed = p.run("mix", stems, "-o", p.path("m", "mix.wav"), "-q")
        if mixed.returncode:
            return Verdict(False, "mix failed")
        verdicts.append(refused(p.run("export", stems, p.path("m", "mix.params.json"), "-o",
                                      small / "sess"), "space"))
        verdicts.append(refused(p.run(*train_args(p.fixtures.data, small / "run", 1,
                                                  "--hidden", 4000)), "space"))
        left = [f.name for f in small.rglob("*") if f.is_file() and f.name != "keep.txt"]
        verdicts.append(Verdict(not left and (small / "keep.txt").read_text() == "the user's",
                                f"left {left[:2]}" if left else ""))
        return both(*verdicts)
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


# == render ===================================================================================


def render_refuses(p: Probe, params: Path, *words: str) -> Verdict:
    return refused(p.run("render", p.fixtures.stems, params, "-o", p.path("r.wav")), *words)


@case("render", "params: a gain written as a string (\"loud\")")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", lambda d: first_gain(d).update(
        gain_db="loud")), "gain_db")


@case("render", "params: the 'tracks' key deleted")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", lambda d: d.pop("tracks")), "tracks")


@case("render", "params: an extra key at the top and an unknown parameter in a track")
def _(p: Probe) -> Verdict:
    a = edited_params(p, "a.json", lambda d: d.update(colour="blue"))
    b = edited_params(p, "b.json", lambda d: first_gain(d).update(warmth=3))
    return both(render_refuses(p, a, "colour"), render_refuses(p, b, "warmth"))


@case("render", "params: an effect the chain does not have (fuzz)")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", lambda d: d["tracks"][0]["effects"]
                                           .update(fuzz={"drive": 1})), "fuzz")


@case("render", "params: gain_db 500, outside its range")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", lambda d: first_gain(d).update(
        gain_db=500)), "range")


@case("render", "params: NaN, Infinity and 1e999 literals")
def _(p: Probe) -> Verdict:
    files = [edited_params(p, f"{n}.json", text=lambda s, v=v: s.replace(
        '"gain_db": ', f'"gain_db": {v}, "x": ', 1)) for n, v in
        (("nan", "NaN"), ("inf", "-Infinity"), ("big", "1e999"))]
    return both(*(render_refuses(p, f, "finite") for f in files))


@case("render", "params: a key written twice in one object (the edit first, the old value last)")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", text=lambda s: s.replace(
        '"gain_db": ', '"gain_db": 3.0, "gain_db": ', 1)), "gain_db", "twice")


@case("render", "params: truncated in the middle, and an empty file")
def _(p: Probe) -> Verdict:
    cut = edited_params(p, "cut.json", text=lambda s: s[: len(s) // 2])
    empty = p.path("empty.json")
    empty.write_text("")
    return both(render_refuses(p, cut, "JSON"), render_refuses(p, empty, "JSON"))


@case("render", "params: saved as Latin-1 with a non-ASCII name")
def _(p: Probe) -> Verdict:
    target = p.path("latin.json")
    target.write_bytes(p.fixtures.params.read_text().replace(
        '"format"', '"note": "caf\u00e9", "format"').encode("latin-1"))
    return render_refuses(p, target, "UTF-8")


@case("render", "params: an integer of 400 digits as a gain")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", text=lambda s: s.replace(
        '"gain_db": ', '"gain_db": ' + "9" * 400 + ', "x": ', 1)), "gain_db")


@case("render", "params: the spec changed to a longer chain whose settings are missing")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", lambda d: d.update(
        spec="gain+eq+comp+reverb+pan")), "missing")


@case("render", "params: a track renamed to BASS.WAV (case variant of a stem)")
def _(p: Probe) -> Verdict:
    return render_refuses(p, edited_params(p, "x.json", lambda d: d["tracks"][0].update(
        name="BASS.WAV")), "BASS.WAV")


@case("render", "params: sample_rate 384001, and 44100.5")
def _(p: Probe) -> Verdict:
    a = edited_params(p, "a.json", lambda d: d.update(sample_rate=384001))
    b = edited_params(p, "b.json", lambda d: d.update(sample_rate=44100.5))
    return both(render_refuses(p, a, "sample_rate"), render_refuses(p, b, "sample_rate"))


@case("render", "params: master set to null (no master stage)")
def _(p: Probe) -> Verdict:
    params = edited_params(p, "x.json", lambda d: d.update(master=None))
    out = p.path("r.wav")
    return done(p.run("render", p.fixtures.stems, params, "-o", out), out)


@case("render", "-o over the params file it reads, and over a stem")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    params = edited_params(p, "mix.params.json")
    before = snapshot(stems, params)
    return both(refused(p.run("render", stems, params, "-o", params), "suffix"),
                refused(p.run("render", stems, params, "-o", stems / "kick.wav"), "input"),
                kept(before))


@case("render", "a stems folder holding a stem the params file does not name")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    sf.write(stems / "extra.wav", tone(500.0), RATE)
    return refused(p.run("render", stems, p.fixtures.params, "-o", p.path("r.wav")),
                   "extra.wav")


# == export ===================================================================================


@case("export", "-o inside the stems folder")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    return both(refused(p.run("export", stems, p.fixtures.params, "-o", stems / "session"),
                        "input"), kept(before))


@case("export", "-o an existing folder console did not write, with and without --force")
def _(p: Probe) -> Verdict:
    mine = p.path("my-project")
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    before = snapshot(mine)
    return both(refused(p.run("export", p.fixtures.stems, p.fixtures.params, "-o", mine),
                        "my-project"),
                refused(p.run("export", p.fixtures.stems, p.fixtures.params, "-o", mine,
                              "--force"), "my-project"),
                kept(before))


@case("export", "--force over an exported session with a new take and an edited README")
def _(p: Probe) -> Verdict:
    session = p.path("sess")
    if p.run("export", p.fixtures.stems, p.fixtures.params, "-o", session).returncode:
        return Verdict(False, "first export failed")
    take = next((session / "interchange").iterdir()) / "audiofiles" / "take2.wav"
    sf.write(take, tone(300.0), RATE)
    (session / "README.md").write_text("my own notes\n")
    before = {"take2.wav": take.read_bytes(), "README.md": b"my own notes\n"}
    verdict = done(p.run("export", p.fixtures.stems, p.fixtures.params, "-o", session,
                         "--force"), session / "sess.ardour")
    kept_dir = p.path("sess.kept")
    found = {f.name: f.read_bytes() for f in kept_dir.rglob("*") if f.is_file()} \
        if kept_dir.is_dir() else {}
    if verdict.ok and any(found.get(n) != b for n, b in before.items()):
        return Verdict(False, "the user's take or README is not in sess.kept")
    return verdict


@case("export", "kill -9 during an export, then the same export again")
def _(p: Probe) -> Verdict:
    stems = p.path("long")
    write_stems(stems, ["a", "b"])
    for name in ("a", "b"):
        sf.write(stems / f"{name}.wav", tone(200.0, seconds=60, rate=16000), 16000)
    mixed = p.run("mix", stems, "-o", p.path("m", "mix.wav"), "-q")
    if mixed.returncode:
        return Verdict(False, "mix failed")
    params = p.path("m", "mix.params.json")
    process = p.start("export", stems, params, "-o", p.path("sess"))
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if any(".building" in c.name for c in p.root.iterdir()):
            break
        time.sleep(0.02)
    time.sleep(0.05)
    if process.poll() is not None:
        return Verdict(False, "the export ended before it could be killed")
    process.send_signal(signal.SIGKILL)
    process.wait()
    if p.path("sess").exists():  # killed after the session was moved into place
        verdict = both(refused(p.run("export", stems, params, "-o", p.path("sess")),
                               "already exists"), Verdict(True, "killed once complete"))
    else:
        verdict = done(p.run("export", stems, params, "-o", p.path("sess")),
                       p.path("sess", "sess.ardour"))
    left = leftovers(p.root)
    if verdict.ok and left:
        return Verdict(False, f"the killed export's {left[0]} stays")
    return verdict


@case("export", "stems kick.wav, Kick.wav and kick.flac (names that collide ignoring case)")
def _(p: Probe) -> Verdict:
    stems = p.path("dup")
    stems.mkdir()
    for name, freq in (("kick.wav", 60.0), ("Kick.wav", 90.0), ("kick.flac", 120.0)):
        sf.write(stems / name, tone(freq), RATE)
    result = p.run("mix", stems, "-o", p.path("m", "mix.wav"), "-q", "--export", p.path("s"))
    verdict = done(result, p.path("s", "s.ardour"))
    printed = list(p.path("s", "printed-stems").glob("*.wav")) if verdict.ok else []
    if verdict.ok and len({f.name.casefold() for f in printed}) != 3:
        return Verdict(False, f"printed stems {sorted(f.name for f in printed)}")
    return verdict


@case("export", "a params file with a value out of range")
def _(p: Probe) -> Verdict:
    params = edited_params(p, "x.json", lambda d: d["tracks"][1]["effects"]["pan"].update(pan=7))
    return both(refused(p.run("export", p.fixtures.stems, params, "-o", p.path("s")), "range"),
                Verdict(not p.path("s").exists(), "no session left"))


# == plot =====================================================================================


@case("plot", "--sample-rate 0")
def _(p: Probe) -> Verdict:
    return refused(p.run("plot", "eq", "--sample-rate", 0, "-o", p.path("eq.png")),
                   "--sample-rate")


@case("plot", "--sample-rate 1000000000")
def _(p: Probe) -> Verdict:
    return refused(p.run("plot", "comp", "--sample-rate", 10**9, "-o", p.path("c.png"),
                         timeout=120), "--sample-rate")


@case("plot", "--params with NaN, a list, and an unknown parameter")
def _(p: Probe) -> Verdict:
    out = p.path("eq.png")
    return both(refused(p.run("plot", "eq", "--params", '{"band1_gain_db": NaN}', "-o", out),
                        "band1_gain_db"),
                refused(p.run("plot", "eq", "--params", "[1, 2]", "-o", out), "--params"),
                refused(p.run("plot", "eq", "--params", '{"warmth": 1}', "-o", out), "warmth"))


@case("plot", "-o a .txt name, and -o over a stem")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    return both(refused(p.run("plot", "eq", "-o", p.path("eq.txt")), "png"),
                refused(p.run("plot", "eq", "-o", stems / "kick.wav"), "png"), kept(before))


@case("plot", "-o over a PNG console did not write")
def _(p: Probe) -> Verdict:
    mine = p.path("photo.png")
    mine.write_bytes(b"\x89PNG\r\n\x1a\nmy holiday")
    before = snapshot(mine)
    return both(refused(p.run("plot", "reverb", "-o", mine), "photo.png"), kept(before))


@case("plot", "an effect that does not exist, and a track not in --params")
def _(p: Probe) -> Verdict:
    out = p.path("x.png")
    return both(refused(p.run("plot", "flanger", "-o", out), "flanger"),
                refused(p.run("plot", "pan", "--params", p.fixtures.params, "--track",
                              "nosuch.wav", "-o", out), "nosuch.wav"))


# == plugins ==================================================================================


@case("plugins", "--json, and third-party autoloading switched off")
def _(p: Probe) -> Verdict:
    result = p.run("plugins", "--json")
    verdict = done(result)
    if verdict.ok:
        try:
            json.loads(result.stdout)
        except ValueError:
            return Verdict(False, "--json printed something that is not JSON")
    return both(verdict, done(p.run("plugins", env={"CONSOLE_DISABLE_PLUGIN_AUTOLOAD": "1"})))


# == make-sessions ============================================================================


def make(p: Probe, out: Path | str, *extra: object) -> Result:
    return p.run("make-sessions", out, "--n", 1, "--duration", 1, "--sample-rate", RATE,
                 "--source", "procedural", *extra)


@case("make-sessions", "--seed -1")
def _(p: Probe) -> Verdict:
    return both(refused(make(p, p.path("songs"), "--seed", -1), "--seed"),
                Verdict(not p.path("songs").exists(), "no folder left"))


@case("make-sessions", "--sample-rate 1, and --duration nan")
def _(p: Probe) -> Verdict:
    return both(refused(p.run("make-sessions", p.path("s"), "--sample-rate", 1), "sample"),
                refused(p.run("make-sessions", p.path("s"), "--duration", "nan"), "--duration"))


@case("make-sessions", "OUT is a file")
def _(p: Probe) -> Verdict:
    p.path("songs").write_text("a file")
    before = snapshot(p.path("songs"))
    return both(refused(make(p, p.path("songs")), "file"), kept(before))


@case("make-sessions", "two runs into one OUT at once, seeds 0 and 100")
def _(p: Probe) -> Verdict:
    runs = [p.start("make-sessions", p.path("songs"), "--n", 2, "--duration", 1,
                    "--sample-rate", RATE, "--source", "procedural", "--seed", seed)
            for seed in (0, 100)]
    codes = [r.wait() for r in runs]
    errors = [r.stderr.read() for r in runs]
    p.results.append(Result(["make-sessions", "songs", "--seed", "0|100", "(at once)"],
                            max(codes), "", errors[-1], 0))
    songs = sorted(s.name for s in p.path("songs").iterdir())
    seeds = {json.loads((p.path("songs", s, "session.json")).read_text()).get("seed")
             for s in songs}
    if codes != [0, 0] or len(songs) != 4 or len(seeds) != 4:
        return Verdict(False, f"exits {codes}, songs {songs}, seeds {seeds}")
    return Verdict(True, "4 distinct songs")


@case("make-sessions", "--engineer nobody, --spec gain+flanger, --colour nan")
def _(p: Probe) -> Verdict:
    return both(refused(make(p, p.path("s"), "--engineer", "nobody"), "nobody"),
                refused(make(p, p.path("s"), "--spec", "gain+flanger"), "flanger"),
                refused(make(p, p.path("s"), "--colour", "nan"), "--colour"))


@case("make-sessions", "OUT is a folder of the user's stems (songs are added beside them)")
def _(p: Probe) -> Verdict:
    stems = p.copy_stems()
    before = snapshot(stems)
    return both(done(make(p, stems), stems / "song_0000" / "mix.wav"), kept(before))


# == demo =====================================================================================


@case("demo", "OUT holding the user's own mix.wav")
def _(p: Probe) -> Verdict:
    p.path("d").mkdir()
    p.path("d", "mix.wav").write_bytes(b"RIFF my own mix")
    before = snapshot(p.path("d"))
    return both(refused(p.run("demo", p.path("d"), "--duration", 1), "mix.wav"), kept(before))


@case("demo", "--seed -5, and --seed 10^23")
def _(p: Probe) -> Verdict:
    return both(refused(p.run("demo", p.path("a"), "--seed=-5", "--duration", 1), "--seed"),
                refused(p.run("demo", p.path("b"), "--seed", "9" * 23, "--duration", 1),
                        "--seed"))


@case("demo", "--duration 1e999 and 0.05")
def _(p: Probe) -> Verdict:
    return both(refused(p.run("demo", p.path("a"), "--duration", "1e999"), "--duration"),
                refused(p.run("demo", p.path("a"), "--duration", "0.05"), "--duration"))


@case("demo", "OUT with unicode, spaces and a leading dash")
def _(p: Probe) -> Verdict:
    out = p.path("-démo ünï 1")
    return done(p.run("demo", out, "--duration", 1), out / "mix.wav", out / "mix.params.json")


@case("demo", "--checkpoint that is an empty file")
def _(p: Probe) -> Verdict:
    p.path("empty.pt").write_bytes(b"")
    return refused(p.run("demo", p.path("d"), "--duration", 1, "--checkpoint",
                         p.path("empty.pt")), "empty.pt")


# == train ====================================================================================


@case("train", "--segment-seconds 0.5 at 8 kHz (shorter than the loss's largest FFT)")
def _(p: Probe) -> Verdict:
    args = train_args(p.fixtures.data, p.path("run"))
    args[args.index("--segment-seconds") + 1] = 0.5
    return both(refused(p.run(*args), "--segment-seconds"),
                Verdict(not p.path("run").exists(), "no run folder left"))


@case("train", "--segment-seconds 1e9")
def _(p: Probe) -> Verdict:
    args = train_args(p.fixtures.data, p.path("run"))
    args[args.index("--segment-seconds") + 1] = "1e9"
    return refused(p.run(*args, timeout=120), "--segment-seconds")


@case("train", "--device cuda:7 on a machine without that GPU, and --device banana")
def _(p: Probe) -> Verdict:
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus > 7:
        return Verdict(True, "skipped: this machine has a cuda:7")
    return both(refused(p.run(*train_args(p.fixtures.data, p.path("run"), 1, "--device",
                                          "cuda:7")), "--device"),
                refused(p.run(*train_args(p.fixtures.data, p.path("run"), 1, "--device",
                                          "banana")), "--device"))


@case("train", "--seed 10^23")
def _(p: Probe) -> Verdict:
    return refused(p.run(*train_args(p.fixtures.data, p.path("run"), 1, "--seed", "9" * 23)),
                   "--seed")


@case("train", "--out is a file, and --data has no songs")
def _(p: Probe) -> Verdict:
    p.path("run").write_text("a file")
    p.path("nodata").mkdir()
    return both(refused(p.run(*train_args(p.fixtures.data, p.path("run"))), "file"),
                refused(p.run(*train_args(p.path("nodata"), p.path("run2"))), "songs"))


@case("train", "--loss-options '[1]', --split 0.5,0.5, --lr nan")
def _(p: Probe) -> Verdict:
    data = p.fixtures.data
    return both(refused(p.run(*train_args(data, p.path("r"), 1, "--loss-options", "[1]")),
                        "--loss-options"),
                refused(p.run(*train_args(data, p.path("r"), 1, "--split", "0.5,0.5")),
                        "--split"),
                refused(p.run(*train_args(data, p.path("r"), 1, "--lr", "nan")), "--lr"))


@case("train", "kill -9 mid-run, then the same command resumes")
def _(p: Probe) -> Verdict:
    args = train_args(p.fixtures.data, p.path("run"), 40, "--checkpoint-every", 1)
    process = p.start(*args)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if p.path("run", "train_state.pt").exists():
            break
        time.sleep(0.05)
    time.sleep(0.5)
    if process.poll() is not None:
        return Verdict(False, "the run ended before it could be killed")
    process.send_signal(signal.SIGKILL)
    process.wait()
    result = p.run(*args)
    verdict = done(result, p.path("run", "console.pt"))
    if verdict.ok and "resumed at step" not in result.stderr:
        return Verdict(False, "started over instead of resuming")
    left = leftovers(p.path("run"))
    if verdict.ok and left:
        return Verdict(False, f"leftover {left[0]}")
    return verdict


@case("train", "a damaged train_state.pt beside console.pt")
def _(p: Probe) -> Verdict:
    run = p.path("run")
    shutil.copytree(p.fixtures.checkpoint.parent, run)
    (run / "train_state.pt").write_bytes(b"\0" * 64)
    before = snapshot(run / "console.pt")
    return both(refused(p.run(*train_args(p.fixtures.data, run, 2)), "train_state.pt"),
                kept(before))


@case("train", "--init a damaged checkpoint")
def _(p: Probe) -> Verdict:
    p.path("bad.pt").write_bytes(p.fixtures.checkpoint.read_bytes()[:777])
    return refused(p.run(*train_args(p.fixtures.data, p.path("run"), 1, "--init",
                                     p.path("bad.pt"))), "bad.pt")


# == train-emulator ===========================================================================


@case("train-emulator", "--segment-seconds -1, and 1e9")
def _(p: Probe) -> Verdict:
    audio = p.fixtures.emulator_audio
    return both(refused(p.run(*emulator_args(audio, p.path("e"), "--segment-seconds=-1")),
                        "--segment-seconds"),
                refused(p.run(*emulator_args(audio, p.path("e"), "--segment-seconds", "1e9"),
                              timeout=120), "--segment-seconds"))


@case("train-emulator", "--response-settings -5")
def _(p: Probe) -> Verdict:
    audio = p.fixtures.emulator_audio
    args = emulator_args(audio, p.path("e"), "--response-settings=-5")
    args[args.index("--response-steps") + 1] = 2
    return refused(p.run(*args), "--response-settings")


@case("train-emulator", "--channels 0")
def _(p: Probe) -> Verdict:
    return refused(p.run(*emulator_args(p.fixtures.emulator_audio, p.path("e"), "--channels",
                                        0)), "--channels")


@case("train-emulator", "--device banana, --seed 10^23, --l1-weight nan")
def _(p: Probe) -> Verdict:
    audio = p.fixtures.emulator_audio
    return both(refused(p.run(*emulator_args(audio, p.path("e"), "--device", "banana")),
                        "--device"),
                refused(p.run(*emulator_args(audio, p.path("e"), "--seed", "9" * 23)),
                        "--seed"),
                refused(p.run(*emulator_args(audio, p.path("e"), "--l1-weight", "nan")),
                        "--l1-weight"))


@case("train-emulator", "an unknown emulator, gain (not an emulator), an empty --audio")
def _(p: Probe) -> Verdict:
    audio = p.fixtures.emulator_audio
    p.path("none").mkdir()
    args = emulator_args(audio, p.path("e"))
    return both(refused(p.run("train-emulator", "flanger", *args[2:]), "flanger"),
                refused(p.run("train-emulator", "gain", *args[2:]), "gain"),
                refused(p.run(*emulator_args(p.path("none"), p.path("e"))), "audio"))


@case("train-emulator", "--out is a file")
def _(p: Probe) -> Verdict:
    p.path("e").write_text("a file")
    before = snapshot(p.path("e"))
    return both(refused(p.run(*emulator_args(p.fixtures.emulator_audio, p.path("e"))), "file"),
                kept(before))


# == evaluate =================================================================================


def evaluate(p: Probe, out: Path, *extra: object) -> Result:
    return p.run("evaluate", p.fixtures.data, "--systems", "mono", "--out", out, "--subset",
                 "all", "--no-progress", "--sample-rate", RATE, *extra)


@case("evaluate", "--excerpt-seconds -1, and nan")
def _(p: Probe) -> Verdict:
    return both(refused(evaluate(p, p.path("e"), "--excerpt-seconds=-1"), "--excerpt-seconds"),
                refused(evaluate(p, p.path("e"), "--excerpt-seconds", "nan"),
                        "--excerpt-seconds"))


@case("evaluate", "--max-songs -1 (would drop the last song)")
def _(p: Probe) -> Verdict:
    return refused(evaluate(p, p.path("e"), "--max-songs=-1"), "--max-songs")


@case("evaluate", "again into a results folder whose summary.csv the user edited")
def _(p: Probe) -> Verdict:
    out = p.path("e")
    if evaluate(p, out, "--excerpt-seconds", 0, "--no-plots").returncode:
        return Verdict(False, "first evaluation failed")
    with (out / "summary.csv").open("a") as f:
        f.write("my note,,,\n")
    before = snapshot(out / "summary.csv")
    return both(refused(evaluate(p, out, "--excerpt-seconds", 0, "--no-plots"), "summary.csv"),
                kept(before))


@case("evaluate", "--out a file; --systems mono,mono; --systems a damaged checkpoint")
def _(p: Probe) -> Verdict:
    p.path("file").write_text("x")
    p.path("bad.pt").write_bytes(b"junk")
    return both(refused(evaluate(p, p.path("file")), "file"),
                refused(p.run("evaluate", p.fixtures.data, "--systems", "mono,mono", "--out",
                              p.path("e"), "--subset", "all"), "mono"),
                refused(p.run("evaluate", p.fixtures.data, "--systems", f"a={p.path('bad.pt')}",
                              "--out", p.path("e")), "bad.pt"))


# == listening-test ===========================================================================


def analyse(p: Probe, *files: Path, out: Path | None = None) -> Result:
    a = results_file(p.path("a.json"))
    return p.run("listening-test", "--analyse", a, *files, "-o", out or p.path("analysis"))


def other(p: Probe, name: str, **kw: object) -> Path:
    return results_file(p.path(name), participant="p2", started="2024-01-02T10:00:00Z", **kw)


@case("listening-test", "results: a rating edited to 150, to -5, to NaN, to \"50\"")
def _(p: Probe) -> Verdict:
    verdicts = []
    for i, value in enumerate((150, -5, "NaN", '"50"')):
        f = other(p, f"r{i}.json")
        f.write_text(f.read_text().replace('"mono": 40.0', f'"mono": {value}', 1))
        verdicts.append(refused(analyse(p, f), "rating"))
    return both(*verdicts)


@case("listening-test", "results: a rating of 400 digits")
def _(p: Probe) -> Verdict:
    f = other(p, "big.json")
    f.write_text(f.read_text().replace('"mono": 40.0', '"mono": ' + "9" * 400, 1))
    return refused(analyse(p, f), "rating")


@case("listening-test", "results: one song's trial copied, so it is rated twice")
def _(p: Probe) -> Verdict:
    def copy_trial(d: dict) -> None:
        d["trials"].append(dict(d["trials"][0]))
    return refused(analyse(p, other(p, "dup.json", edit=copy_trial)), "twice")


@case("listening-test", "results from another test, and a binary file")
def _(p: Probe) -> Verdict:
    junk = p.path("junk.json")
    junk.write_bytes(bytes(range(256)))
    return both(refused(analyse(p, other(p, "b.json", test_id="other")), "different tests"),
                refused(analyse(p, junk), "junk.json"))


@case("listening-test", "--analyse -o a folder holding the user's own ratings.csv")
def _(p: Probe) -> Verdict:
    out = p.path("mine")
    out.mkdir()
    (out / "ratings.csv").write_text("my precious ratings\n")
    before = snapshot(out)
    return both(refused(analyse(p, other(p, "b.json"), out=out), "ratings.csv"), kept(before))


@case("listening-test", "the site built again after the user edited its style.css")
def _(p: Probe) -> Verdict:
    site = p.path("site")
    if p.run("listening-test", p.fixtures.evaluation, "-o", site).returncode:
        return Verdict(False, "first build failed")
    with (site / "style.css").open("a") as f:
        f.write("body { background: hotpink; }\n")
    before = snapshot(site / "style.css")
    result = p.run("listening-test", p.fixtures.evaluation, "-o", site)
    if crashed(result):
        return crashed(result)  # type: ignore[return-value]
    return both(kept(before), Verdict(True, f"exit {result.returncode}"))


@case("listening-test", "the site -o the evaluation folder itself, and a title with <script>")
def _(p: Probe) -> Verdict:
    evaluation = p.fixtures.evaluation
    before = snapshot(evaluation)
    site = p.path("site")
    verdict = done(p.run("listening-test", evaluation, "-o", site, "--title",
                         "<script>alert(1)</script>"), site / "index.html")
    if verdict.ok and "<script>alert" in (site / "index.html").read_text():
        return Verdict(False, "the title is not escaped")
    return both(refused(p.run("listening-test", evaluation, "-o", evaluation), "site"),
                verdict, kept(before))


# -- the run -----------------------------------------------------------------------------


def shown(argv: Sequence[str], root: Path) -> str:
    text = " ".join(shlex.quote(a) for a in argv)
    text = text.replace(str(root), "$S")
    return text if len(text) <= 90 else text[:87] + "..."


def markdown(rows: Sequence[Row]) -> str:
    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| # | verb | input | command (last run) | exit | last line of stderr | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = ("ok" if r.verdict.ok else "**BAD**") + (f": {r.verdict.note}"
                                                           if r.verdict.note else "")
        last = r.last_line if len(r.last_line) <= 110 else r.last_line[:107] + "..."
        lines.append(f"| {r.number} | {r.verb} | {cell(r.title)} | `{cell(r.command)}` | "
                     f"{r.returncode} | {cell(last)} | {cell(verdict)} |")
    return "\n".join(lines)


def run_case(number: int, item: Case, scratch: Path, fixtures: Fixtures) -> Row:
    root = scratch / f"case{number:03d}"
    root.mkdir()
    probe = Probe(root, fixtures)
    try:
        verdict = item.body(probe)
    except Exception as exc:  # the probe's own failure counts as BAD, visibly
        verdict = Verdict(False, f"probe error: {type(exc).__name__}: {exc}")
    last = probe.results[-1] if probe.results else None
    return Row(number, item.verb, item.title,
               shown(last.argv, scratch) if last else "",
               last.returncode if last else "", last.last_line.replace(str(scratch), "$S")
               if last else "", verdict)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="run only cases whose verb or title contains this (repeatable)")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="scratch folder (default: a new one under the temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="console-probe-", dir=args.scratch))
    fixtures = Fixtures(scratch / "fixtures")
    chosen = [(i, c) for i, c in enumerate(CASES, start=1)
              if not args.patterns or any(k.lower() in f"{c.verb} {c.title}".lower()
                                          for k in args.patterns)]
    rows = []
    start = time.perf_counter()
    for number, item in chosen:
        row = run_case(number, item, scratch, fixtures)
        rows.append(row)
        print(f"[{time.perf_counter() - start:6.0f} s] {number:3d} {item.verb:15s} "
              f"{'ok ' if row.verdict.ok else 'BAD'} {item.title}", file=sys.stderr)
    print(markdown(rows))
    bad = [r for r in rows if not r.verdict.ok]
    print(f"\n{len(rows)} cases, {len(rows) - len(bad)} ok, {len(bad)} BAD "
          f"({time.perf_counter() - start:.0f} s; scratch {scratch})")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
