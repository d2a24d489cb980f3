"""The errors of the one-call Python API (genseq.api): `genseq.load` of a directory without
weights, `genseq.write` with a model that cannot write."""

from __future__ import annotations

import shutil

import pytest

import genseq
from genseq.errors import GenseqError


def test_load_a_model_without_its_weights(tiny_text_run, tmp_path):
    d = tmp_path / "noweights"
    shutil.copytree(tiny_text_run[1], d)
    (d / "model.safetensors").unlink()
    with pytest.raises(GenseqError) as e:
        genseq.load(d)
    assert f"no weights for {d}: {d / 'model.safetensors'} is missing" in str(e.value)


@pytest.mark.parametrize("model", ["text", "predict"])
def test_write_with_a_model_that_is_not_a_synthesis_model(model, tiny_text_run):
    """A text model, or the shipped prediction network (§4: it has no alphabet)."""
    name = tiny_text_run[1] if model == "text" else "predict"
    with pytest.raises(GenseqError) as e:
        genseq.write("hi", model=name)
    assert f"{name} is not a synthesis model: it cannot write text" in str(e.value)
