"""Two CPU processes (gloo) under torchrun end with identical replicas."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_gloo_replicas_hold_the_same_weights(tmp_path):
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"
    }
    result = subprocess.run(
        [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path),
        ],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == r1["world"] == 2
    for name, value in r0["state"].items():
        torch.testing.assert_close(r1["state"][name], value, rtol=0, atol=0)
    # each replica trained on its own slice of every step's examples
    first0, first1 = r0["batches"][0][0], r1["batches"][0][0]
    assert not set(first0) & set(first1)
    # the replicas started apart (different seeds) and training moved the weights
    name = "post_processor.net.0.weight"
    assert not torch.equal(r0["initial"][name], r1["initial"][name])
    assert not torch.equal(r0["initial"][name], r0["state"][name])
