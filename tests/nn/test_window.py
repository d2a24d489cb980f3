"""Soft attention window (§5, eqs 46-51) and the stop rule (§5.3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genseq.nn.window import SoftWindow, phi_direct, phi_end, stop_now, u_grid, window_phi


def _chars(B: int, U: int, A: int, dtype=torch.float32) -> torch.Tensor:
    return F.one_hot(torch.randint(0, A, (B, U)), A).to(dtype)


def test_matches_direct_loops():
    B, H, K, U, A = 3, 8, 4, 7, 5
    win = SoftWindow(H, K).double()
    with torch.no_grad():
        win.proj.bias.normal_(0, 1)
    h = torch.randn(B, H, dtype=torch.float64)
    kappa0 = torch.rand(B, K, dtype=torch.float64) * U
    c = _chars(B, U, A, torch.float64)
    w, kappa, phi = win(h, kappa0, c)
    assert w.shape == (B, A) and kappa.shape == (B, K) and phi.shape == (B, U + 1)

    ah, bh, kh = (h @ win.proj.weight.T + win.proj.bias).split(K, dim=-1)  # eq 48
    alpha, beta, kap = ah.exp(), bh.exp(), kappa0 + kh.exp()  # eqs 49-51
    torch.testing.assert_close(kappa, kap)
    ref = phi_direct(alpha, beta, kap, U)
    torch.testing.assert_close(phi, ref)
    assert (ref > 1e-6).any()  # the comparison is not vacuous
    w_ref = torch.zeros(B, A, dtype=torch.float64)
    for b in range(B):
        for u in range(1, U + 1):  # eq 47, u 1-based
            w_ref[b] += ref[b, u - 1] * c[b, u - 1]
    torch.testing.assert_close(w, w_ref)


def test_phi_is_one_based():
    """A sharp window centred at κ = 3 peaks at u = 3 (column 2)."""
    phi = window_phi(
        torch.zeros(1, 1), torch.full((1, 1), 50.0), torch.full((1, 1), 3.0), u_grid(5)
    )
    assert phi.argmax().item() == 2
    torch.testing.assert_close(phi[0, 2], torch.tensor(1.0))


def test_precomputed_grid_same_result():
    B, H, K, U, A = 2, 6, 3, 5, 4
    win = SoftWindow(H, K)
    h, k0, c = torch.randn(B, H), torch.zeros(B, K), _chars(B, U, A)
    a = win(h, k0, c)
    b = win(h, k0, c, u=u_grid(U))
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)


def test_kappa_monotone():
    B, H, K, U, A = 4, 10, 5, 6, 3
    win = SoftWindow(H, K)
    c = _chars(B, U, A)
    kappa = torch.zeros(B, K)
    u = u_grid(U)
    for _ in range(20):
        _, new, _ = win(torch.randn(B, H) * 3, kappa, c, u=u)
        assert (new > kappa).all()
        kappa = new


def test_padding_does_not_change_w():
    B, H, K, U, A = 3, 8, 4, 9, 6
    win = SoftWindow(H, K)
    with torch.no_grad():
        win.proj.bias[2 * K :] = 1.0  # κ runs past the short sequences' ends
    lengths = torch.tensor([9, 4, 6])
    mask = torch.arange(U)[None] < lengths[:, None]
    c1 = _chars(B, U, A) * mask[..., None]
    c2 = c1.clone()
    c2[~mask] = torch.rand(int((~mask).sum()), A) + 1.0  # garbage beyond each length
    h, k0 = torch.randn(B, H), torch.rand(B, K) * 5
    w1, _, _ = win(h, k0, c1, mask)
    w2, _, _ = win(h, k0, c2, mask)
    torch.testing.assert_close(w1, w2)
    w3, _, _ = win(h, k0, c2)  # without the mask the garbage does leak (test can fail)
    assert not torch.allclose(w1, w3)
    w4, _, _ = win(h, k0, c1)  # pre-masked chars, no mask: same as masked
    torch.testing.assert_close(w1, w4)


def test_stop_rule_hand_made():
    # columns are u = 1..5 (U = 4 in a padded batch, lengths per item)
    phi = torch.tensor(
        [
            [0.1, 0.2, 0.3, 0.4, 0.5],  # U=4: φ(5)=0.5 > all -> stop
            [0.1, 0.2, 0.9, 0.4, 0.5],  # U=4: φ(3)=0.9 > φ(5) -> go on
            [0.1, 0.3, 0.2, 9.0, 9.0],  # U=2: φ(3)=0.2 < φ(2)=0.3 -> go on (padding ignored)
            [0.1, 0.1, 0.7, 0.0, 0.0],  # U=2: φ(3)=0.7 > 0.1, 0.1 -> stop
            [0.4, 0.4, 0.4, 0.4, 0.4],  # U=4: tie is not ">" -> go on
        ]
    )
    lengths = torch.tensor([4, 4, 2, 2, 4])
    assert stop_now(phi, lengths).tolist() == [True, False, False, True, False]
    torch.testing.assert_close(phi_end(phi, lengths), torch.tensor([0.5, 0.5, 0.2, 0.7, 0.4]))


def test_gradcheck_window():
    B, H, K, U, A = 2, 5, 3, 4, 3
    win = SoftWindow(H, K).double()
    c = _chars(B, U, A, torch.float64)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    h = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    k0 = (torch.rand(B, K, dtype=torch.float64) * U).requires_grad_(True)
    params = tuple(win.parameters())

    def f(h, k0, *_):
        return win(h, k0, c, mask)

    assert torch.autograd.gradcheck(f, (h, k0, *params), eps=1e-6, atol=1e-6)
