"""What the trainer and a task agree on (`Task`, the TBPTT `Carry`) and the training
settings (`TrainConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

from torch import Tensor, nn

Carry = dict[str, Tensor] | None


class Task(Protocol):
    """What the trainer needs of a task. Optional extras it uses when present: `shard(rank,
    world)` (data parallel), `group` (weight noise per group, genseq.train.noisy),
    `complexity_weight()` (adaptive noise), `log_state()` / `load_log_state(s)` (log counters
    kept across a resume), and `carry_shapes(model, epoch, i)`: the shapes of the carry that
    batch i of `epoch` reads ({name: shape} of the whole batch; None when it reads none), which
    a resumed checkpoint's carry is checked against (genseq.train.state)."""

    unit: str  # what one loss term is: "char", "word", "point", "sequence"

    def num_batches(self) -> int: ...  # per epoch

    def loss(
        self, model: nn.Module, epoch: int, i: int, carry: Carry
    ) -> tuple[Tensor, float, Carry]:
        """Loss of batch i of `epoch` (mean, for backward), its number of units, new carry."""
        ...

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics; must contain `primary` (lower is better)."""
        ...

    primary: str

    def display(self, nats_per_unit: float) -> dict[str, float]:
        """Human-facing train metrics from mean nats per unit (e.g. {"bpc": ...})."""
        ...


@dataclass
class TrainConfig:
    optimizer: str = "adam"  # adam | rmsprop-graves | sgd
    lr: float = 1e-3
    momentum: float = 0.9
    clip: float = 1.0  # global gradient-norm clip (0 = off)
    weight_noise: float = 0.0  # std of Gaussian weight noise (§3)
    noise_groups: int = 1  # weight noise drawn for each of G groups of a batch's sequences
    adaptive_noise: float = 0.0  # > 0: adaptive weight noise (Graves 2011), initial σ
    steps: int = 0  # stop after this many updates (0 = no limit)
    epochs: float = 0.0  # ... or epochs
    minutes: float = 0.0  # ... or wall-clock minutes of this invocation
    eval_every: int = 500  # updates between validations
    checkpoint_every: float = 120.0  # seconds between checkpoints
    lr_decay: float = 0.5  # multiply lr by this after `patience` evaluations without progress
    patience: int = 2
    min_lr: float = 1e-6
    seed: int = 0
    log_every: int = 20  # updates between metrics.jsonl lines
    precision: str = "fp32"  # fp32 | bf16 (resolved from auto; genseq.nn.precision)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


STOP_FIELDS = ("steps", "epochs", "minutes")  # may change on --resume; the rest may not
RESUME_FIELDS = STOP_FIELDS + ("precision",)  # a run resumes in any precision (fp32 weights)
