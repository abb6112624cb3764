"""Does the torch musicnn compute what the reference musicnn computes?

Runs the reference (the ``musicnn`` package on TensorFlow) in a separate
Python environment, runs :class:`console_encoders.musicnn.Musicnn` here on the
same 16 kHz samples, and prints the largest absolute difference of the
log-mel input patches, the tag probabilities, the penultimate features and the
other named layers, per model, plus whether the converted weights equal the
checkpoint's variables exactly. The reference's environment (TensorFlow is
never a dependency of console)::

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1 librosa==0.9.2 numpy==1.23.5 soundfile

Then::

    python scripts/check_musicnn_parity.py --tf-python /tmp/tfenv/bin/python \\
        --clip /usr/share/sonic-pi/samples/loop_amen_full.flac

``--write-fixture tests/data/musicnn_reference.npz`` instead runs both on the
deterministic signal of :func:`fixture_signal` and saves the reference's
outputs, which ``tests/test_musicnn.py`` checks the port against without
TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from console_encoders.musicnn import (  # noqa: E402
    MUSICNN_SAMPLE_RATE,
    PATCH_FRAMES,
    SHIPPED,
    Musicnn,
)

MODELS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}
COMPARED = ["tags", "penultimate", "mean_pool", "max_pool", "timbral", "temporal"]

# Runs inside the reference's environment: musicnn's own extractor, its own batching of the
# log-mel spectrogram, and TensorFlow's own checkpoint reader.
REFERENCE = r"""
import os, sys
import numpy as np
import tensorflow as tf
import musicnn
from musicnn import configuration
from musicnn.extractor import batch_data, extractor
# One session run for all patches: the extractor's loop over further batches appends the
# first batch's penultimate and cnn features again (a bug of musicnn 0.1.0, not of the model).
configuration.BATCH_SIZE = 10000
wav, out, models = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
result = {}
for model in models:
    taggram, labels, features = extractor(wav, model=model, extract_features=True)
    batch, _ = batch_data(wav, 187, 187)
    result[model + "/tags"] = taggram
    result[model + "/logmel"] = batch
    for key in ("penultimate", "mean_pool", "max_pool", "timbral", "temporal"):
        value = features[key]
        result[model + "/" + key] = value.reshape(-1, value.shape[-1])
    reader = tf.compat.v1.train.NewCheckpointReader(
        os.path.join(os.path.dirname(musicnn.__file__), model) + "/")
    for name in reader.get_variable_to_shape_map():
        if "Adam" not in name and not name.endswith("_power"):
            result[model + "/var/" + name] = reader.get_tensor(name)
np.savez(out, **result)
"""


def fixture_signal(seconds: float = 6.5, sample_rate: int = MUSICNN_SAMPLE_RATE) -> np.ndarray:
    """A deterministic 'song' (bass, chord, kick, hi-hat noise), 16-bit, as float32.

    Made from sines and a linear congruential generator, so the same numbers come
    out of any numpy; ``tests/test_musicnn.py`` has a copy of this function.
    """
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    beat = t % 0.5
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-beat / 0.02)) * beat) * np.exp(-beat / 0.12)
    bass = 0.3 * np.sign(np.sin(2 * np.pi * 55 * t)) * (t % 1.0 < 0.7)
    chord = sum(0.08 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0, 523.25))
    state, noise = 12345, np.empty(n)
    for i in range(n):
        state = (1103515245 * state + 12345) % 2**31
        noise[i] = state / 2**30 - 1.0
    hat_time = (t + 0.25) % 0.5
    hat = 0.2 * noise * np.exp(-hat_time / 0.03)
    mix = 0.6 * kick + bass + chord + hat
    pcm = np.round(np.clip(0.5 * mix, -1, 1) * 32767).astype(np.int16)
    return (pcm / 32768.0).astype(np.float32)


def load_clip(path: Path) -> np.ndarray:
    """A recording as mono float32 at 16 kHz (resampled here, so both sides read the same)."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = torch.from_numpy(audio.mean(axis=1))
    if rate != MUSICNN_SAMPLE_RATE:
        mono = torchaudio.functional.resample(mono, rate, MUSICNN_SAMPLE_RATE)
    return mono.numpy().astype(np.float32)


def run_reference(tf_python: str, audio: np.ndarray, models: list[str]) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        wav, out = Path(tmp) / "clip.wav", Path(tmp) / "reference.npz"
        sf.write(str(wav), audio, MUSICNN_SAMPLE_RATE, subtype="FLOAT")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        subprocess.run(
            [tf_python, "-c", REFERENCE, str(wav), str(out), ",".join(MODELS[m] for m in models)],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )
        with np.load(out) as data:
            return {k: data[k] for k in data.files}


def run_port(audio: np.ndarray, weights: str) -> dict[str, np.ndarray]:
    """The port's per-patch outputs at the reference's patches (non-overlapping, none extra)."""
    encoder = Musicnn(weights=weights).eval()
    with torch.no_grad():
        logmel = encoder.frontend(torch.from_numpy(audio)[None])[0]
        count = (logmel.shape[0] - PATCH_FRAMES) // PATCH_FRAMES + 1
        patches = logmel[: count * PATCH_FRAMES].reshape(count, PATCH_FRAMES, -1)
        features = encoder.network(patches)
    out = {"logmel": patches.numpy()}
    for key in COMPARED:
        value = features[key].numpy()
        out[key] = value.reshape(-1, value.shape[-1]) if value.ndim == 3 else value
    return out


def compare(reference: dict[str, np.ndarray], audio: np.ndarray, models: list[str]) -> dict:
    from convert_musicnn import to_torch, variable_names  # noqa: PLC0415

    report = {}
    for key in models:
        model = MODELS[key]
        port = run_port(audio, key)
        row = {}
        for name in ["logmel", *COMPARED]:
            ours, theirs = port[name], reference[f"{model}/{name}"]
            if ours.shape != theirs.shape:
                raise SystemExit(f"{model} {name}: shape {ours.shape} vs {theirs.shape}")
            row[name] = float(np.abs(ours.astype(np.float64) - theirs).max())
            row[f"{name}_largest"] = float(np.abs(theirs).max())
        state = torch.load(
            Path(ROOT / "src" / "console_encoders" / "weights" / SHIPPED[key]),
            weights_only=True,
        )["state_dict"]
        row["weights_equal"] = all(
            torch.equal(state[ours], to_torch(tf_name, ours, reference[f"{model}/var/{tf_name}"]))
            for tf_name, ours in variable_names().items()
        )
        row["patches"] = int(port["tags"].shape[0])
        report[model] = row
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tf-python", required=True,
                        help="python of an environment with musicnn and TensorFlow")
    parser.add_argument("--clip", type=Path,
                        default=Path("/usr/share/sonic-pi/samples/loop_amen_full.flac"))
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--write-fixture", type=Path,
                        help="save the reference's outputs on fixture_signal() to this .npz")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    torch.set_num_threads(1)

    if args.write_fixture:
        audio = fixture_signal()
        reference = run_reference(args.tf_python, audio, args.models)
        fixture = {"signal_sum": np.int64(np.round(audio.astype(np.float64) * 32768).sum())}
        for key in args.models:
            for name in ("tags", "penultimate"):
                fixture[f"{key}/{name}"] = reference[f"{MODELS[key]}/{name}"].astype(np.float32)
        np.savez_compressed(args.write_fixture, **fixture)
        print(f"wrote {args.write_fixture} ({args.write_fixture.stat().st_size} bytes)")
        report = compare(reference, audio, args.models)
    else:
        audio = load_clip(args.clip)
        reference = run_reference(args.tf_python, audio, args.models)
        report = compare(reference, audio, args.models)

    source = "fixture_signal()" if args.write_fixture else str(args.clip)
    print(f"clip: {source}, {len(audio) / MUSICNN_SAMPLE_RATE:.2f} s at 16 kHz")
    print("max abs difference, port vs reference (per 3 s patch, the reference's patches):")
    names = ["logmel", *COMPARED]
    print(f"{'model':<12} {'patches':>7} " + " ".join(f"{n:>11}" for n in names) + "  weights")
    for model, row in report.items():
        print(f"{model:<12} {row['patches']:>7} "
              + " ".join(f"{row[n]:>11.2e}" for n in names)
              + f"  {'identical' if row['weights_equal'] else 'DIFFER'}")
        print(f"{'  |largest|':<20} " + " ".join(f"{row[n + '_largest']:>11.2e}" for n in names))
    if args.json:
        args.json.write_text(json.dumps({"clip": source, "report": report}, indent=2) + "\n")
    worst = max(max(row["tags"], row["penultimate"]) for row in report.values())
    return 0 if worst <= 1e-3 and all(r["weights_equal"] for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
