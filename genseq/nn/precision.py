"""Training / evaluation precision: fp32, or bf16 GEMMs with fp32 everything else.

`--precision bf16` runs the model's forward under `torch.autocast(device, torch.bfloat16)`.
What that means here (the rest of genseq reads `gemm_dtype`):
- master weights, optimizer state, checkpoints: fp32 (autocast never changes a parameter);
- GEMMs in bf16 with fp32 accumulation: the hoisted input projections and the per-step
  recurrent GEMMs of the scan kernels (`genseq.nn.scan`: LSTM layers, SynthesisNet's layer 1),
  their backward GEMMs, the weight gradients and the output layers;
- fp32: gate pre-activations (a bf16 GEMM result is added to an fp32 bias / input part), the
  cell state c and every elementwise step of eqs 7-11, the window (eqs 46-51: κ accumulates
  in fp32), the MDN log-likelihood and the softmax loss (`split_params` and `nll` take ŷ as
  fp32), all reductions.
On CPU the fused LSTM layers leave oneDNN's fused kernel (its bf16 RNN is slower than fp32
without AMX: measured 0.45x on AMD Zen 4) for the scan kernels with bf16 GEMMs. On CUDA they
stay on cuDNN in fp32 (TF32 tensor cores), because autocast's cuDNN-RNN wrapper casts to fp16.

`auto` = bf16 on CUDA, or on a CPU with AMX or AVX512-BF16 (`cpu_bf16_flags`), else fp32.
Detection can be forced (`force_cpu_bf16`, or $GENSEQ_CPU_BF16=0/1) for tests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16")
BF16_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16")  # /proc/cpuinfo names
_FORCED: list[bool | None] = [None]


def cpu_flags() -> set[str]:
    """The CPU's feature flags as /proc/cpuinfo lists them (empty where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_bf16_flags() -> list[str]:
    """The CPU features that make bf16 GEMMs fast here: AMX / AVX512-BF16, from /proc/cpuinfo
    and from torch's own detection (torch.cpu._is_*_supported, where this torch has them)."""
    found = set(cpu_flags()) & set(BF16_FLAGS)
    probes = {"avx512_bf16": "_is_avx512_bf16_supported", "amx_tile": "_is_amx_tile_supported"}
    for flag, fn in probes.items():
        probe = getattr(torch.cpu, fn, None)
        if probe is not None and probe():
            found.add(flag)
    return sorted(found)


def cpu_has_bf16() -> bool:
    """Whether `auto` picks bf16 on this CPU; forced by `force_cpu_bf16` or $GENSEQ_CPU_BF16."""
    if _FORCED[0] is not None:
        return _FORCED[0]
    env = os.environ.get("GENSEQ_CPU_BF16")
    if env in ("0", "1"):
        return env == "1"
    return bool(cpu_bf16_flags())


@contextlib.contextmanager
def force_cpu_bf16(value: bool | None) -> Iterator[None]:
    """Pretend the CPU has (True) or lacks (False) fast bf16; None: detect. For tests."""
    old, _FORCED[0] = _FORCED[0], value
    try:
        yield
    finally:
        _FORCED[0] = old


def resolve(precision: str, device: torch.device | str = "cpu") -> str:
    """'auto' | 'fp32' | 'bf16' -> 'fp32' or 'bf16' for a model on `device`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    dev = torch.device(device)
    return "bf16" if dev.type == "cuda" or (dev.type == "cpu" and cpu_has_bf16()) else "fp32"


def autocast(
    precision: str, device: torch.device | str = "cpu"
) -> contextlib.AbstractContextManager:
    """The forward's context for a resolved precision: bf16 autocast, or nothing for fp32."""
    if resolve(precision, device) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def model_device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def gemm_dtype(t: torch.Tensor) -> torch.dtype | None:
    """The low-precision GEMM dtype autocast asks for on t's device (bf16 / fp16), or None
    when autocast is off there (or t is not floating point fp32)."""
    dev = t.device.type
    if t.dtype != torch.float32 or not torch.is_autocast_enabled(dev):
        return None
    dt = torch.get_autocast_dtype(dev)
    return dt if dt in (torch.bfloat16, torch.float16) else None


def no_autocast(t: torch.Tensor) -> contextlib.AbstractContextManager:
    """Autocast off on t's device: inside the hand-written kernels every cast is explicit."""
    return torch.autocast(t.device.type, enabled=False)


def describe(device: torch.device | str = "cpu") -> dict[str, object]:
    """What decided `auto` here: for bench rows and run records."""
    return {
        "auto": resolve("auto", device),
        "cpu_bf16_flags": cpu_bf16_flags(),
        "forced": _FORCED[0] if _FORCED[0] is not None else os.environ.get("GENSEQ_CPU_BF16"),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
