"""Convert musicnn's TensorFlow checkpoints to the torch weights files console ships.

musicnn (Pons and Serra, 2019; ISC licence, Music Technology Group,
Universitat Pompeu Fabra) ships its weights inside the ``musicnn`` wheel as
TensorFlow checkpoints (``musicnn/MSD_musicnn/.index`` and
``.data-00000-of-00001``). This script reads them with a small pure-Python
reader of TensorFlow's checkpoint ("tensor bundle") format, so neither
TensorFlow nor the musicnn package needs to be installed, renames the
variables to :class:`console_encoders.musicnn.MusicnnNetwork`'s, and writes one
``.pt`` file per model with the tag labels, the source file's SHA-256 and the
licence notice.

Get the wheel and convert::

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn
    python scripts/convert_musicnn.py --source /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl

``--source`` also takes an installed ``musicnn`` package folder. Existing
weights files are kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from console.atomic import atomic_write  # noqa: E402
from console_encoders.musicnn import WEIGHTS_FORMAT, MusicnnNetwork  # noqa: E402

WEIGHTS_DIR = ROOT / "src" / "console_encoders" / "weights"
MODELS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}

MSD_LABELS = [
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
]
MTT_LABELS = [
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
]
LABELS = {"msd": MSD_LABELS, "mtt": MTT_LABELS}

LICENCE = (
    "musicnn: Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. Code "
    "developed by Jordi Pons (www.jordipons.me). ISC licence: see LICENSE-musicnn beside "
    "this file."
)

# -- TensorFlow's tensor bundle, read without TensorFlow --------------------------------
#
# ``.index`` is a LevelDB-format table (uncompressed blocks) from variable name to a
# BundleEntryProto saying where the tensor's bytes lie in ``.data-00000-of-00001``;
# the empty key holds the BundleHeaderProto.

TABLE_MAGIC = 0xDB4775248B80FB57
# TensorFlow DataType enum -> numpy dtype (the types a checkpoint of weights holds).
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_, 19: np.float16}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varint/fixed, bytes otherwise."""
    fields, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos : pos + length]
            pos += length
        elif wire == 5:
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((number, value))
    return fields


def _block(table: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one table block (prefix-compressed keys)."""
    if table[offset + size] != 0:
        raise ValueError("compressed checkpoint index blocks are not supported")
    data = table[offset : offset + size]
    restarts = struct.unpack_from("<I", data, len(data) - 4)[0]
    end = len(data) - 4 * (restarts + 1)
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(data, pos)
        unshared, pos = _varint(data, pos)
        length, pos = _varint(data, pos)
        key = key[:shared] + data[pos : pos + unshared]
        pos += unshared
        entries.append((key, data[pos : pos + length]))
        pos += length
    return entries


def _crc32c(data: bytes) -> int:
    table = _crc32c.table  # type: ignore[attr-defined]
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_crc32c.table = _crc_table()  # type: ignore[attr-defined]


def _masked(crc: int) -> int:
    """TensorFlow stores CRC32C masked (``crc32c::Mask``)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_bundle(
    index: bytes, data: bytes, names: set[str] | None = None, verify: bool = True
) -> dict[str, np.ndarray]:
    """Tensors of a TensorFlow checkpoint from its ``.index`` and single data shard.

    ``names`` limits what is read; ``verify`` checks each tensor's CRC32C.
    """
    if struct.unpack_from("<Q", index, len(index) - 8)[0] != TABLE_MAGIC:
        raise ValueError("not a TensorFlow checkpoint index (bad table magic)")
    footer = index[-48:]
    _, pos = _varint(footer, 0)
    _, pos = _varint(footer, pos)  # metaindex handle (unused)
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    tensors = {}
    for _, handle in _block(index, index_offset, index_size):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        for key, value in _block(index, offset, size):
            name = key.decode()
            if not name or (names is not None and name not in names):
                continue  # the empty key is the bundle's header
            entry = dict(_proto_fields(value))
            if entry.get(3, 0) != 0 or 7 in entry:
                raise ValueError(f"{name}: sharded or sliced tensors are not supported")
            dtype = DTYPES.get(int(entry.get(1, 0)))
            if dtype is None:
                raise ValueError(f"{name}: unsupported TensorFlow dtype {entry.get(1)}")
            shape = [
                int(dict(_proto_fields(dim)).get(1, 0))
                for number, dim in _proto_fields(entry.get(2, b"")) if number == 2
            ]
            start, length = int(entry.get(4, 0)), int(entry.get(5, 0))
            raw = data[start : start + length]
            if verify and 6 in entry and _masked(_crc32c(raw)) != entry[6]:
                raise ValueError(f"{name}: checksum mismatch, the checkpoint is damaged")
            tensors[name] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(
                shape
            ).copy()
    return tensors


# -- TensorFlow variable names -> MusicnnNetwork's -------------------------------------


def _bn(tf_name: str, ours: str) -> dict[str, str]:
    return {
        f"{tf_name}/gamma": f"{ours}.weight", f"{tf_name}/beta": f"{ours}.bias",
        f"{tf_name}/moving_mean": f"{ours}.running_mean",
        f"{tf_name}/moving_variance": f"{ours}.running_var",
    }


def variable_names() -> dict[str, str]:
    """TensorFlow name -> torch name, in the order the reference builds its layers."""
    names = _bn("batch_normalization", "input_norm")
    convs = [f"timbral.{i}" for i in range(2)] + [f"temporal.{i}" for i in range(3)]
    convs += [f"midend.{i}" for i in range(3)]
    norms = [n.replace(".", "_norm.", 1) for n in convs]
    for i, (conv, norm) in enumerate(zip(convs, norms, strict=True)):
        suffix = f"_{i}" if i else ""
        names[f"conv2d{suffix}/kernel"] = f"{conv}.weight"
        names[f"conv2d{suffix}/bias"] = f"{conv}.bias"
        names.update(_bn(f"batch_normalization_{i + 1}", norm))
    names.update(_bn("batch_normalization_9", "pool_norm"))
    names.update({"dense/kernel": "dense.weight", "dense/bias": "dense.bias"})
    names.update(_bn("batch_normalization_10", "dense_norm"))
    names.update({"dense_1/kernel": "output.weight", "dense_1/bias": "output.bias"})
    return names


def to_torch(tf_name: str, ours: str, value: np.ndarray) -> torch.Tensor:
    """A TensorFlow weight in torch's layout."""
    tensor = torch.from_numpy(value)
    if not tf_name.endswith("kernel"):
        return tensor
    if value.ndim == 2:
        return tensor.T.contiguous()  # dense: (in, out) -> (out, in)
    if ours.startswith("midend"):  # (7, in, 1, out), a conv2d across all features -> conv1d
        return tensor[:, :, 0, :].permute(2, 1, 0).contiguous()
    return tensor.permute(3, 2, 0, 1).contiguous()  # (kh, kw, in, out) -> (out, in, kh, kw)


def convert(index: bytes, data: bytes) -> dict[str, torch.Tensor]:
    """The state dict of :class:`MusicnnNetwork` from one model's checkpoint bytes."""
    names = variable_names()
    tensors = read_bundle(index, data, set(names))
    missing = sorted(set(names) - set(tensors))
    if missing:
        raise ValueError(f"the checkpoint lacks {missing[:3]}: is it a musicnn model?")
    state = {}
    for tf_name, ours in names.items():
        state[ours] = to_torch(tf_name, ours, tensors[tf_name])
    network = MusicnnNetwork()
    reference = network.state_dict()
    for key, value in reference.items():
        if key.endswith("num_batches_tracked"):
            state[key] = value
        elif state[key].shape != value.shape:
            raise ValueError(f"{key}: {tuple(state[key].shape)} instead of {tuple(value.shape)}")
    network.load_state_dict(state, strict=True)
    return {k: v.clone() for k, v in network.state_dict().items()}


def read_source(source: Path, model: str) -> tuple[bytes, bytes]:
    """The ``.index`` and ``.data-00000-of-00001`` bytes of ``model`` in a wheel or folder."""
    files = (f"musicnn/{model}/.index", f"musicnn/{model}/.data-00000-of-00001")
    if source.is_file():
        with zipfile.ZipFile(source) as wheel:
            return wheel.read(files[0]), wheel.read(files[1])
    folder = source if (source / model).is_dir() else source / "musicnn"
    return tuple((folder / model / Path(f).name).read_bytes() for f in files)  # type: ignore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="the musicnn wheel (.whl) or an installed musicnn package folder")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS),
                        help="which models to convert (default: all)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR,
                        help=f"folder of the weights files (default: {WEIGHTS_DIR})")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing weights files (default: keep them)")
    args = parser.parse_args(argv)
    wheel_sha = hashlib.sha256(args.source.read_bytes()).hexdigest() if args.source.is_file() \
        else None
    args.out.mkdir(parents=True, exist_ok=True)
    for key in args.models:
        target = args.out / f"musicnn_{key}.pt"
        if target.exists() and not args.force:
            print(f"{target} exists; kept (give --force to overwrite it).")
            continue
        index, data = read_source(args.source, MODELS[key])
        state = convert(index, data)
        payload = {
            "format": WEIGHTS_FORMAT,
            "format_version": 1,
            "model": MODELS[key],
            "labels": LABELS[key],
            "state_dict": state,
            "source": {
                "package": "musicnn 0.1.0",
                "wheel_sha256": wheel_sha,
                "data_sha256": hashlib.sha256(data).hexdigest(),
                "index_sha256": hashlib.sha256(index).hexdigest(),
            },
            "licence": LICENCE,
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        atomic_write(target, lambda tmp, b=buffer: tmp.write_bytes(b.getvalue()))
        count = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
        print(f"{MODELS[key]} -> {target} ({count} values, {target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
