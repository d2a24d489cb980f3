"""notebooks/tour.ipynb (issue 17): committed without outputs, and it runs top to bottom.

The run uses the FAST switch (GENSEQ_FAST=1: small training cells) on one thread, with the
shared data when it is there (the cells without data say so and go on). It needs nbclient,
nbformat and ipykernel (the dev extras); without them the run is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from tests.conftest import REPO, shared_data

NOTEBOOK = REPO / "notebooks" / "tour.ipynb"
NEEDS = ("nbclient", "nbformat", "ipykernel")
SECTIONS = ("Introduction", "Data preparation", "Model design", "Training",
            "Evaluation and results", "Conclusion")  # fmt: skip


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def test_committed_without_outputs():
    code = [c for c in _cells() if c["cell_type"] == "code"]
    assert code, "the notebook has no code cells"
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"code cells {dirty} hold outputs: strip them before committing"


def test_has_the_six_sections_in_order():
    heads = [line for c in _cells() if c["cell_type"] == "markdown"
             for line in "".join(c["source"]).splitlines() if line.startswith("## ")]  # fmt: skip
    assert [h.split(". ", 1)[1] for h in heads] == list(SECTIONS)


@pytest.mark.slow
def test_runs_top_to_bottom_fast(monkeypatch):
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[dev]')")
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("GENSEQ_FAST", "1")
    monkeypatch.setenv("GENSEQ_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    data = shared_data()
    if data is not None:
        monkeypatch.setenv("GENSEQ_DATA", str(data))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})  # fmt: skip
    client.execute()  # raises CellExecutionError on the first cell that fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 12, f"only {len(images)} figures were drawn"
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert first.startswith("genseq ") and "FAST=True" in first
