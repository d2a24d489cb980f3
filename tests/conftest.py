"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# `--precision auto` = fp32 in tests whatever the CPU (genseq.nn.precision): results must not
# depend on the machine; the bf16 tests ask for bf16 (or force the detection) explicitly.
os.environ.setdefault("GENSEQ_CPU_BF16", "0")


def shared_data() -> Path | None:
    """The shared data folder: $GENSEQ_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("GENSEQ_DATA")
    p = Path(env) if env else REPO.parent / "shared" / "data"
    return p if p.is_dir() else None


@pytest.fixture
def data_root() -> Path:
    p = shared_data()
    if p is None:
        pytest.skip("shared data absent: set GENSEQ_DATA or put ../shared/data beside the repo")
    return p


@pytest.fixture(autouse=True)
def _threads_and_seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)  # tests run two at a time (pytest -n 2) on 2 cores
    yield
