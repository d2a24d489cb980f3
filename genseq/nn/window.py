"""Soft attention window over the character string (Graves 2013, §5, eqs 46-51; stop rule §5.3).

Character positions u are 1-based as in the paper: u = 1..U are the characters, and φ is also
evaluated at u = U+1 (one past the end) for the stop rule. With padding, sequence b has its own
length U_b <= U; its "one past the end" value φ(t, U_b+1) is column U_b (0-based) of phi.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def u_grid(
    U: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Positions u = 1..U+1 as a (U+1,) float tensor; build once per batch and pass to forward."""
    return torch.arange(1, U + 2, device=device, dtype=dtype)


def window_phi(
    log_alpha: torch.Tensor, beta: torch.Tensor, kappa: torch.Tensor, u: torch.Tensor
) -> torch.Tensor:
    """eq 46: φ(t,u) = Σ_k α_k exp(-β_k (κ_k - u)²), log_alpha/beta/kappa (B,K), u (N,) -> (B,N).
    α enters as exp(α̂ - β(κ-u)²): one exp, and no overflow of α alone."""
    d = kappa.unsqueeze(-1) - u  # (B, K, N)
    return torch.exp(log_alpha.unsqueeze(-1) - beta.unsqueeze(-1) * d * d).sum(1)


def window_params(
    p: torch.Tensor, kappa_prev: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(α̂, β̂, κ̂) = p (B,3K), the projection of eq 48 -> (log α, β, κ_t), each (B,K)."""
    alpha_hat, beta_hat, kappa_hat = p.chunk(3, dim=-1)
    # eq 49: α = exp(α̂) (kept as log α = α̂); eq 50: β = exp(β̂); eq 51: κ_t = κ_{t-1} + exp(κ̂)
    return alpha_hat, torch.exp(beta_hat), kappa_prev + torch.exp(kappa_hat)


def window_vector(
    phi: torch.Tensor, chars: torch.Tensor, char_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """eq 47: w_t = Σ_{u<=U} φ(t,u) c_u; phi (B,>=U), chars (B,U,A) one-hot -> (B,A).
    char_mask (B,U) bool leaves padded characters out (or pass chars already masked)."""
    phi_c = phi[:, : chars.shape[1]]
    if char_mask is not None:
        phi_c = phi_c * char_mask.to(phi.dtype)
    return torch.bmm(phi_c.unsqueeze(1), chars).squeeze(1)


def window_step(
    p: torch.Tensor,
    kappa_prev: torch.Tensor,
    chars: torch.Tensor,
    u: torch.Tensor,
    char_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of the window from its projection p = W h^1_t + b (B,3K) (eq 48):
    eqs 49-51, 46, 47 -> w_t (B,A), κ_t (B,K), φ(t, ·) (B,U+1) on u = 1..U+1."""
    log_alpha, beta, kappa = window_params(p, kappa_prev)  # eqs 49-51
    phi = window_phi(log_alpha, beta, kappa, u)  # eq 46
    return window_vector(phi, chars, char_mask), kappa, phi  # eq 47


class SoftWindow(nn.Module):
    """One time step of the window: h^1_t -> (w_t, κ_t, φ(t, ·)).

    The training path does not call this module step by step: `genseq.nn.synth_scan.synth_scan`
    fuses layer 1 and eqs 46-51 into one kernel with a hand-written backward; tests/nn/
    test_scan.py::test_synth_scan_equals_autograd_loop proves it equal to this module."""

    def __init__(self, in_features: int, n_components: int = 10):
        super().__init__()
        self.n_components = n_components
        self.proj = nn.Linear(in_features, 3 * n_components)  # eq 48: (α̂, β̂, κ̂) = W h^1_t + b

    def forward(
        self,
        h1: torch.Tensor,
        kappa_prev: torch.Tensor,
        chars: torch.Tensor,
        char_mask: torch.Tensor | None = None,
        u: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """h1 (B,H), kappa_prev (B,K), chars (B,U,A) one-hot float, char_mask (B,U) bool or None,
        u: optional precomputed u_grid(U) (U+1,). Returns w (B,A), kappa (B,K), phi (B,U+1).

        phi is raw eq 46 on u = 1..U+1 (padding not applied); w uses only unmasked characters.
        Passing chars already multiplied by the mask and char_mask=None gives the same w and
        saves a multiply per step.
        """
        if u is None:
            u = u_grid(chars.shape[1], device=h1.device, dtype=h1.dtype)
        return window_step(self.proj(h1), kappa_prev, chars, u, char_mask)  # eqs 46-51


def phi_end(phi: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """φ(t, U_b + 1) for each batch item: phi (B, >=U_b+1), lengths (B,) int -> (B,)."""
    return phi.gather(1, lengths.long().unsqueeze(1)).squeeze(1)


def stop_now(phi: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """§5.3 stop rule: True where φ(t, U_b+1) > φ(t, u) for all u <= U_b (per item), (B,) bool.
    phi (B, N) with N >= max(lengths) + 1, on the 1-based grid of SoftWindow.forward."""
    lengths = lengths.long()
    cols = torch.arange(phi.shape[1], device=phi.device)
    inside = cols.unsqueeze(0) < lengths.unsqueeze(1)  # u <= U_b
    best = phi.masked_fill(~inside, float("-inf")).amax(dim=1)
    return phi_end(phi, lengths) > best


def phi_direct(
    alpha: torch.Tensor, beta: torch.Tensor, kappa: torch.Tensor, U: int
) -> torch.Tensor:
    """Reference eq 46 by explicit loops (tests only): alpha/beta/kappa (B,K) -> (B, U+1),
    column u-1 holding φ(t,u) for u = 1..U+1."""
    B, K = alpha.shape
    rows = []
    for b in range(B):
        row = []
        for u in range(1, U + 2):
            s = alpha.new_zeros(())
            for k in range(K):
                s = s + alpha[b, k] * torch.exp(-beta[b, k] * (kappa[b, k] - u) ** 2)
            row.append(s)
        rows.append(torch.stack(row))
    return torch.stack(rows)
