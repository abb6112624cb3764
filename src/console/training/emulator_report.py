"""What the emulator scripts measure and write, in one place: held-out fidelity, CPU cost,
hardware, the test-split log, and the files a model card goes to.

``scripts/train_emulators.py`` and ``scripts/train_reverb_emulator.py`` write
emulator weights and their cards with these; ``benchmarks/bench_fast_effects.py``
measures every emulator and DSP effect with the same functions, so a card's
figures and the docs table are measured alike.

Held-out audio is split by file name (:func:`~console.training.emulator_data.split_of`):
``validation`` for every choice (recipes, runs, the benchmark by default), ``test``
scored once per shipped weights file, each use appended to a log
(:func:`log_test_use`). An emulator's ``training_settings`` (the reverbs' ``mix``
1: the wet signal alone) hold in scoring too, for the emulator, bypass and the
DSP effect alike.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from console.atomic import atomic_write_text
from console.errors import ConsoleError
from console.training.emulator_data import EffectPairDataset, split_clips
from console.training.emulator_metrics import Fidelity, compare_on

SAMPLE_RATE = 44100
#: The workload a card's CPU cost is measured on (the benchmark's emulator rows).
COST_TRACKS, COST_SECONDS = 2, 3.0
#: Examples and their seeds: fixed, so every script scores the same pairs.
HELD_OUT_EXAMPLES = 64
SPLIT_SEEDS = {"validation": 777, "test": 12345}


def hardware() -> str:
    """One line: the CPU (or GPU) and the threads torch uses."""
    threads = torch.get_num_threads()
    if torch.cuda.is_available():
        return f"1x {torch.cuda.get_device_name(0)} (CUDA), {threads} CPU threads"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"CPU only ({cpu}, {os.cpu_count()} cores), {threads} "
            f"thread{'' if threads == 1 else 's'}")


def fixed_settings(effect: Any) -> dict[str, float]:
    """The settings an emulator holds while it trains and is scored (none for most)."""
    return dict(getattr(effect, "training_settings", {}) or {})


def held_out_pairs(
    emulator_class: Any, split: str, examples: int = HELD_OUT_EXAMPLES,
    audio: str | Path | None = None, reference_kind: str = "auto",
    clips: Mapping[str, list[torch.Tensor]] | None = None,
) -> tuple[EffectPairDataset, str]:
    """The ``split``'s pairs for an emulator class (its reference at random settings, its
    fixed settings held), and where the audio came from."""
    if split not in SPLIT_SEEDS:
        raise ConsoleError(f"held-out split must be one of {sorted(SPLIT_SEEDS)}, not {split!r}")
    source = "given clips"
    if clips is None:
        clips, source = split_clips(audio, SAMPLE_RATE)
    data = EffectPairDataset(
        clips[split], emulator_class.params, emulator_class.reference(reference_kind),
        int(emulator_class.training_seconds * SAMPLE_RATE), examples, seed=SPLIT_SEEDS[split],
        fixed=fixed_settings(emulator_class),
    )
    return data, source


def fidelity(
    candidates: Mapping[str, torch.nn.Module | None], data: EffectPairDataset
) -> dict[str, Fidelity]:
    """MR-STFT error and SNR of each candidate (``None``: bypass) on the pairs."""
    return compare_on(data, dict(candidates), SAMPLE_RATE)


def cpu_cost(
    effect: torch.nn.Module, rounds: int = 7, tracks: int = COST_TRACKS,
    seconds: float = COST_SECONDS, long: tuple[int, float] | None = None,
) -> dict[str, float]:
    """CPU seconds per track-second on one thread: forward, and forward+backward.

    The backward takes gradients to the settings and the audio with the
    weights frozen, as ``console train`` runs an emulator; ``tracks`` x
    ``seconds`` of noise at -20 dBFS RMS at random settings; the two calls in
    turns (``rounds`` of each after a warm-up; medians, and the median of the
    round-by-round ratio, so a busy machine slows both alike). ``long`` (tracks,
    seconds) adds ``forward_long``: one more forward pass over that workload.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        effect = effect.requires_grad_(False)
        generator = torch.Generator().manual_seed(1)
        audio = 0.1 * torch.randn(tracks, 1, int(seconds * SAMPLE_RATE), generator=generator)
        params = torch.stack([s.sample(tracks, generator=generator) for s in effect.params], 1)

        def forward() -> None:
            with torch.no_grad():
                effect(audio, params, SAMPLE_RATE)

        def forward_backward() -> None:
            p = params.clone().requires_grad_(True)
            effect(audio.clone().requires_grad_(True), p, SAMPLE_RATE).square().mean().backward()

        forward()  # warm-up: compiled loops, caches
        forward_backward()
        times: dict[str, list[float]] = {"forward": [], "forward_backward": []}
        for _ in range(rounds):
            for name, call in (("forward", forward), ("forward_backward", forward_backward)):
                start = time.process_time()
                call()
                times[name].append(time.process_time() - start)
        result = {name: statistics.median(t) / (tracks * seconds) for name, t in times.items()}
        result["ratio"] = statistics.median(
            b / f for f, b in zip(times["forward"], times["forward_backward"], strict=True))
        if long is not None:
            audio = 0.1 * torch.randn(long[0], 1, int(long[1] * SAMPLE_RATE), generator=generator)
            params = torch.stack([s.sample(long[0], generator=generator) for s in effect.params],
                                 1)
            start = time.process_time()
            forward()
            result["forward_long"] = (time.process_time() - start) / (long[0] * long[1])
        return result
    finally:
        torch.set_num_threads(threads)


def log_test_use(log: str | Path, what: str) -> None:
    """Append one line to the test split's log: when, and what was scored on it."""
    path = Path(log)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{datetime.datetime.now().isoformat()} {what}\n")


def check_writable(paths: list[Path], force: bool) -> None:
    """Refuse, before any work, to replace existing files unless ``force``."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise ConsoleError(
            f"{', '.join(existing)} exist (shipped weights?) and would be replaced; give "
            f"--force to replace them, or --weights-dir DIR to write elsewhere."
        )


def write_weights_and_card(
    save: Callable[[Path], None], weights: Path, card: Callable[[], str]
) -> None:
    """The weights (by ``save``, atomically), then the card that describes those weights.

    The card is made after the weights are written, from them, and only then; an
    error in making it leaves the new weights without a card rather than a card
    describing other weights (the old card is removed first).
    """
    card_path = weights.with_suffix(".md")
    card_path.unlink(missing_ok=True)
    save(weights)
    text = card()
    atomic_write_text(card_path, text)
    print(f"wrote {weights} and {card_path.name}", file=sys.stderr)


def fidelity_table(scores: Mapping[str, Mapping[str, float]]) -> str:
    """A card's Markdown table of MR-STFT error and SNR per output."""
    rows = "\n".join(f"| {name} | {s['mrstft']:.4f} | {s['snr_db']:.1f} |"
                     for name, s in scores.items())
    return f"| output | MR-STFT error | SNR (dB) |\n| --- | --- | --- |\n{rows}"


def cost_sentence(cost: Mapping[str, float]) -> str:
    """A card's line on CPU cost."""
    return (
        f"CPU cost (one thread, CPU time, {COST_TRACKS} tracks x {COST_SECONDS:g} s at "
        f"{SAMPLE_RATE} Hz, CPU seconds per track-second, medians of calls taken in turns): "
        f"forward {cost['forward']:.4f}, forward+backward {cost['forward_backward']:.4f} "
        f"(gradients to the settings and the audio, weights frozen; {cost['ratio']:.2f} x "
        f"forward)."
    )
