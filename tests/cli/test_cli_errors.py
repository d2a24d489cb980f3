"""Flag errors of the command line's own checks (genseq.cli: hand_train, recognize, serve,
write): exit 2, one `genseq: error:` line, each message checked. Every case fails before
any data is read or any model trained."""

from __future__ import annotations

import pytest

from tests.text.test_corpus_errors import cli_error

TRAIN = "--steps 1 --no-progress --hidden 4 --layers 1"
CASES = [
    ("hand train --task predict --data {tmp}/none.npz --out {tmp}/r " + TRAIN,
     "no such cache: {tmp}/none.npz (make one with `genseq hand prepare`)"),
    ("hand train --task synth --data {tmp}/none.npz --out {tmp}/r --crop-len 50 " + TRAIN,
     "--crop-len is for prediction only: a crop loses its text"),
    ("hand recognizer-train --data {tmp}/none.npz --out {tmp}/r --ctc-weight 1 --steps 1",
     "--ctc-weight is in [0, 1); --no-ctc reads with --decoder attention"),
    ("hand recognizer-train --data {tmp}/none.npz --out {tmp}/r --no-ctc --steps 1",
     "--ctc-weight is in [0, 1); --no-ctc reads with --decoder attention"),
    ("serve --workers 0", "--workers, --max-chars and --time-limit must be > 0, --queue >= 0"),
    ("serve --queue -1", "--workers, --max-chars and --time-limit must be > 0, --queue >= 0"),
    ("serve --time-limit nan",
     "--workers, --max-chars and --time-limit must be > 0, --queue >= 0"),
    ("write hi --model synth -o {tmp}/x.svg --style-text hello",
     "--style-text goes with --style-from FILE"),
]  # fmt: skip


@pytest.mark.parametrize("argv, message", CASES, ids=[c[0].split(" --")[0] for c in CASES])
def test_a_wrong_flag_is_one_line(argv, message, tmp_path, capsys):
    err = cli_error(capsys, argv.format(tmp=tmp_path).split())
    assert err == "genseq: error: " + message.format(tmp=tmp_path)
    assert not (tmp_path / "r").exists() and not (tmp_path / "x.svg").exists()
