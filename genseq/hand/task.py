"""Handwriting prediction (§4) and synthesis (§5) as a trainer `Task`.

Batches are dicts from a `HandBatches`-like batcher (`len()`, `batch(epoch, i)`):
`strokes` (B,T,3) normalised (Δx, Δy, eos), `mask` (B,T) bool, `text` (B,U) long (0 = pad),
`text_mask` (B,U) bool. The model is picked by its `kind`: "synth" also reads the text.

Units and the numbers shown (the trainer keeps Σ loss·units / Σ units over a log window):
- `unit` = "point": `n_units` is the number of predicted points, so the trainer shows points/s.
- The tensor `loss` returns has the GRADIENT of the mean over the batch of the per-sequence
  loss L(x) (eq 26, summed over the line's points, masked) but the VALUE of the mean loss per
  point (Σ nll / points); so the trainer's running mean Σ value·points / Σ points is exactly
  the nats per point of the window.
- `display` turns that into nats per sequence: nats/point x (points / sequences) of the same
  log window (the task counts both as it serves batches), i.e. Σ L(x) / #lines exactly when the
  window holds whole lines. It is shown as `nats` in the progress bar and logged as
  `train_nats`, beside `valid_nats`, the primary metric (mean per-sequence L(x) on validation,
  Table 3's normalisation; negative is good).

SSE (`evaluate`): the paper gives "sum-squared error per point" without details. Ours:
the mean prediction ŷ = (Σ_j π_j μ_j, e) (`mdn_mean`) against the target (Δx, Δy, eos),
sse = mean over points of (Δx - x̂)² + (Δy - ŷ)² + (eos - e)², in the normalised units the
loss uses. The eos term is included because the target is the whole 3-vector the network
predicts; it is small (eos is ~1 in 25 points, e is a probability), and `sse_xy` (offsets
only) is reported as well so either reading can be compared.

TBPTT (`chunk_len` > 0): each batch is served as consecutive trainer steps of `chunk_len`
points, one optimizer step each, carrying the LSTM state (and κ, w for synthesis) from one
chunk to the next through the trainer's carry. Lines are shifted (x_1 = null) before they are
cut, the text is the whole line's for every chunk, and a new batch starts from a zero state.
How many chunks a batch gets:
- `chunks_per_batch` (or ceil(crop_len / chunk_len) with the batcher's crops, prediction):
  the same count for every batch; points past it are not trained on, and a chunk past the end
  of every line of its batch gives a zero loss and 0 units (the optimizer still steps).
- otherwise (whole lines, e.g. synthesis): ceil(T_j / chunk_len) for batch j of padded length
  T_j, read from the batcher's `batch_lengths(epoch)` before any batch is loaded. An epoch
  then has a number of steps that depends on how its lines were bucketed; the trainer needs a
  fixed count, so every epoch is served as epoch 0's count of steps: a longer epoch is cut
  short at the end (its last batches wait for the next shuffle), a shorter one starts over
  from its first batch. Each batch's chunks stay consecutive, so the carry is always the
  previous chunk's of the same lines.
Without chunk_len: whole lines (or the batcher's crops), one optimizer step per batch.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from genseq.errors import GenseqError
from genseq.hand.model import inputs_targets
from genseq.nn.clip import per_sequence_clips
from genseq.nn.mdn import mdn_mean, mdn_nll, split_params
from genseq.nn.util import eval_mode
from genseq.train.config import Carry
from genseq.train.noisy import group_rows

Batch = dict[str, Any]


def scored_mask(batch: Batch) -> Tensor:
    """The points that count in the loss and the metrics: every real point except a line's
    first one. That target is the line's start relative to itself, (0, 0) before
    normalisation, the same constant for every line and predicted from the null input
    (x_1, §2) alone: scoring it would let the network buy unbounded likelihood with an ever
    narrower Gaussian there (σ → 0), none of it handwriting. (A random crop's first point is
    a real offset and stays.)"""
    mask = batch["mask"].clone()
    starts = batch.get("starts")
    first = (
        torch.ones(mask.shape[0], dtype=torch.bool, device=mask.device)
        if starts is None
        else torch.tensor([s == 0 for s in starts], dtype=torch.bool, device=mask.device)
    )
    mask[:, 0] &= ~first
    return mask


class Batcher(Protocol):
    def __len__(self) -> int: ...

    def batch(self, epoch: int, i: int) -> Batch: ...


def run_model(
    model: nn.Module, inputs: Tensor, batch: Batch, state: Any = None
) -> tuple[Tensor, Any]:
    """ŷ (B,T,1+6M) and the final state of a PredictionNet or SynthesisNet on shifted inputs."""
    if model.kind == "synth":
        return model(inputs, batch["text"], batch.get("text_mask"), state)
    return model(inputs, state)


def state_to_carry(model: nn.Module, state: Any) -> dict[str, Tensor]:
    return dict(state) if model.kind == "synth" else {"h": state[0], "c": state[1]}


def carry_to_state(model: nn.Module, carry: Carry) -> Any:
    if carry is None:
        return None
    return dict(carry) if model.kind == "synth" else (carry["h"], carry["c"])


class HandTask:
    unit = "point"
    primary = "nats"

    def __init__(
        self,
        train: Batcher,
        valid: Batcher | None = None,
        chunk_len: int = 0,
        chunks_per_batch: int = 0,
        eval_batches: int = 0,  # 0: the whole validation set; else its first N batches
    ):
        self.train, self.valid = train, valid
        self.chunk_len, self.eval_batches = chunk_len, eval_batches
        self.chunks = 1  # per batch, when fixed; 0: ceil(T_j / chunk_len) for batch j
        if chunk_len > 0:
            crop = getattr(train, "crop_len", None)
            if chunks_per_batch > 0 or crop:
                self.chunks = chunks_per_batch or math.ceil(crop / chunk_len)
            elif hasattr(train, "batch_lengths"):
                self.chunks = 0
            else:
                raise GenseqError(
                    "TBPTT chunks need crops (crop_len), chunks_per_batch, or a batcher that "
                    "knows its batch lengths"
                )
        self._steps: tuple[int, list[tuple[int, int]]] | None = None
        self._cached: tuple[tuple[int, int], Batch, Tensor] | None = None
        self._window = [0.0, 0.0]  # points, sequences served since the last display
        self._shown = False
        self.rank, self.world = 0, 1
        self.group = (0, 1)  # noise group (g, G) being served (genseq.train.noisy)

    def shard(self, rank: int, world: int) -> None:
        """Data parallel: this process trains on its lines of every batch (rows `rank` of
        `world`, genseq.train.distributed.shard_slice); the loss is scaled so that DDP's mean
        of the ranks' gradients is the gradient of the whole batch's loss."""
        self.rank, self.world = rank, world

    def num_batches(self) -> int:
        return len(self.train) * self.chunks if self.chunks else len(self.epoch_steps(0))

    def complexity_weight(self) -> float:
        """Share of adaptive noise's L^C per update: 1 / (lines x updates per line an epoch)."""
        return 1.0 / (getattr(self.train, "batch_size", 1) * self.num_batches())

    def epoch_steps(self, epoch: int) -> list[tuple[int, int]]:
        """(batch j, chunk k) of every step of `epoch` when chunk counts vary per batch."""
        if self._steps is None or self._steps[0] != epoch:
            L = self.chunk_len
            lengths = self.train.batch_lengths(epoch)  # type: ignore[attr-defined]
            steps = [(j, k) for j, T in enumerate(lengths) for k in range(max(1, -(-T // L)))]
            self._steps = (epoch, steps)
        return self._steps[1]

    def _locate(self, epoch: int, i: int) -> tuple[int, int]:
        if self.chunks:
            return divmod(i, self.chunks)
        steps = self.epoch_steps(epoch)
        return steps[i % len(steps)]  # a short epoch starts over at (first batch, chunk 0)

    def _batch(self, epoch: int, j: int) -> tuple[Batch, Tensor]:
        """Batch j of `epoch` and its shifted inputs, kept while its chunks are served."""
        if self._cached is None or self._cached[0] != (epoch, j):
            b = self.train.batch(epoch, j)
            self._cached = ((epoch, j), b, inputs_targets(b["strokes"])[0])
        return self._cached[1], self._cached[2]

    def loss(
        self, model: nn.Module, epoch: int, i: int, carry: Carry
    ) -> tuple[Tensor, float, Carry]:
        j, k = self._locate(epoch, i)
        batch, inputs = self._batch(epoch, j)
        targets, mask = batch["strokes"], scored_mask(batch)
        state = None
        if self.chunk_len > 0:
            cut = slice(k * self.chunk_len, (k + 1) * self.chunk_len)
            inputs, targets, mask = inputs[:, cut], targets[:, cut], mask[:, cut]
            state = carry_to_state(model, carry) if k > 0 else None  # a new batch starts at 0
        lines = max(int(batch["mask"].any(1).sum()), 1)  # of the whole (global) batch
        points_all = int(mask.sum())
        if self.world > 1 or self.group[1] > 1:  # this rank's lines, of them this noise group's
            rows = group_rows(inputs.shape[0], self.rank, self.world, self.group)
            if rows.start == rows.stop:
                return torch.zeros((), requires_grad=True), 0.0, None
            inputs, targets, mask = inputs[rows], targets[rows], mask[rows]
            batch = {**batch, "text": batch["text"][rows]}
            if batch.get("text_mask") is not None:
                batch["text_mask"] = batch["text_mask"][rows]
        with per_sequence_clips(self.world / lines):  # ∂loss/∂L(x) below: Graves' clips per line
            y_hat, state = run_model(model, inputs, batch, state)
        total = mdn_nll(split_params(y_hat, model.n_mixtures), targets, mask).sum()  # Σ eq 26
        points = int(mask.sum())
        # what is optimised: mean over the batch of L(x) (x world: DDP averages the ranks)
        per_seq = total * (self.world / lines)
        per_point = total / max(points, 1)  # what is logged (see the module docstring)
        loss = per_seq + (per_point - per_seq).detach()
        if self._shown:  # the trainer displayed the last window: start a new one
            self._window, self._shown = [0.0, 0.0], False
        if self.group[0] == 0:  # once per update
            self._window[0] += points_all
            self._window[1] += lines if k == 0 else 0
        new_carry = state_to_carry(model, state) if self.chunk_len > 0 else None
        return loss, float(points), new_carry

    def carry_shapes(
        self, model: nn.Module, epoch: int, i: int
    ) -> dict[str, tuple[int, ...]] | None:
        """The carry step i of `epoch` reads: its batch's state after the chunk before, for
        every line of the batch (None: no TBPTT, or a batch's first chunk, which starts from
        zeros). A resumed checkpoint's carry is checked against it (genseq.train.state)."""
        if self.chunk_len <= 0:
            return None
        j, k = self._locate(epoch, i)
        if k == 0:
            return None
        rows = self._batch(epoch, j)[1].shape[0]
        lstm = model if model.kind == "synth" else model.lstm
        zeros = state_to_carry(model, lstm.initial_state(rows))
        return {name: tuple(v.shape) for name, v in zeros.items()}

    def log_state(self) -> list[float]:
        """The log window's counters, checkpointed so a resumed run logs the same nats."""
        return [*self._window, float(self._shown)]

    def load_log_state(self, state: list) -> None:
        points, seqs, shown = (float(x) for x in state)
        self._window, self._shown = [points, seqs], bool(shown)

    def display(self, nats_per_unit: float) -> dict[str, float]:
        """Mean nats per point of a log window -> {"nats": nats per sequence} (same window)."""
        self._shown = True
        points, seqs = self._window
        return {"nats": nats_per_unit * points / seqs} if seqs > 0 else {}

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.valid is None:
            raise GenseqError("no validation data")
        return evaluate(model, self.valid, self.eval_batches)


def evaluate(model: nn.Module, batches: Batcher, max_batches: int = 0) -> dict[str, float]:
    """Whole lines of `batches` (epoch 0): nats = mean per-sequence L(x) (eq 26, Table 3),
    nats_point, sse / sse_xy (mean per point, see the module docstring), counts."""
    nll_sum = sse = sse_xy = 0.0
    points = seqs = 0
    n = len(batches) if max_batches <= 0 else min(max_batches, len(batches))
    with eval_mode(model), torch.no_grad():
        for i in range(n):
            b = batches.batch(0, i)
            inputs, targets = inputs_targets(b["strokes"])
            mask = scored_mask(b)
            y_hat, _ = run_model(model, inputs, b)
            params = split_params(y_hat, model.n_mixtures)
            nll_sum += mdn_nll(params, targets, mask).sum().item()
            err = (mdn_mean(params) - targets).square()
            err = torch.where(mask.unsqueeze(-1), err, torch.zeros_like(err))  # NaN-safe
            sse += err.sum().item()
            sse_xy += err[..., :2].sum().item()
            points += int(mask.sum())
            seqs += int(mask.any(1).sum())
    if seqs == 0:
        raise GenseqError("the validation data has no points")
    return {
        "nats": nll_sum / seqs,
        "nats_point": nll_sum / points,
        "sse": sse / points,
        "sse_xy": sse_xy / points,
        "sequences": float(seqs),
        "points": float(points),
    }
