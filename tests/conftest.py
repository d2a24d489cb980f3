"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent (fail
under GENSEQ_REQUIRE_DATA=1, as in CI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
# `--precision auto` = fp32 in tests whatever the CPU (genseq.nn.precision): results must not
# depend on the machine; the bf16 tests ask for bf16 (or force the detection) explicitly.
os.environ.setdefault("GENSEQ_CPU_BF16", "0")


def shared_data() -> Path | None:
    """The shared data folder: $GENSEQ_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("GENSEQ_DATA")
    p = Path(env) if env else REPO.parent / "shared" / "data"
    return p if p.is_dir() else None


def require_data() -> bool:
    """GENSEQ_REQUIRE_DATA=1 (set by .ci/run): missing shared data fails instead of skipping."""
    return os.environ.get("GENSEQ_REQUIRE_DATA", "") not in ("", "0")


def skip_without_data(reason: str) -> None:
    """Skip a test whose shared data is absent, or fail under GENSEQ_REQUIRE_DATA=1."""
    if require_data():
        pytest.fail(f"{reason} (GENSEQ_REQUIRE_DATA=1: CI needs the shared data)")
    pytest.skip(reason)


@pytest.fixture
def data_root() -> Path:
    p = shared_data()
    if p is None:
        skip_without_data(
            "shared data absent: set GENSEQ_DATA or put ../shared/data beside the repo"
        )
    return p


# hypothesis (tests/test_fuzz.py): a short run in `make test`, HYPOTHESIS_PROFILE=slow for more
settings.register_profile("default", max_examples=15, deadline=None, database=None,
                          print_blob=True)  # fmt: skip
settings.register_profile("slow", max_examples=1000, deadline=None, database=None,
                          print_blob=True)  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _threads_and_seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)  # tests run two at a time (pytest -n 2) on 2 cores
    yield


def text_train(data, out, flags: str = "") -> list[str]:
    """argv of `genseq text train --data DATA --out OUT FLAGS...` (flags split on spaces)."""
    return ["text", "train", "--data", str(data), "--out", str(out), *flags.split()]


@pytest.fixture(scope="session")
def tiny_text_run(tmp_path_factory) -> tuple[Path, Path]:
    """(corpus, run directory) of a 2-step `text train` whose checkpoint carries its state
    (read only: copy what a test changes)."""
    from genseq.cli import main

    d = tmp_path_factory.mktemp("run")
    data = d / "toy.txt"
    data.write_text("the cat sat on a mat. " * 50)
    flags = "--hidden 5 --batch-size 2 --seq-len 10 --steps 2 --eval-every 100"
    assert main(text_train(data, d / "run", flags + " --no-progress --threads 1")) == 0
    return data, d / "run"


def _trace_errors(path: str) -> None:
    """GENSEQ_ERROR_TRACE=FILE: append "file:line<TAB>test" for every GenseqError raised while
    the tests run (python -m tests.error_sites FILE maps each message to its tests)."""
    from genseq.errors import GenseqError

    init = GenseqError.__init__

    def traced(self, *args):
        f = sys._getframe(1)
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{f.f_code.co_filename}:{f.f_lineno}\t{test}\n")
        init(self, *args)

    GenseqError.__init__ = traced  # type: ignore[method-assign]


if os.environ.get("GENSEQ_ERROR_TRACE"):
    _trace_errors(os.environ["GENSEQ_ERROR_TRACE"])
