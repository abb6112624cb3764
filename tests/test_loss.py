import pytest
import torch

from console.losses import StereoSTFTLoss
from console.plugins import get_plugins

SMALL = {"fft_sizes": (64, 256), "hop_sizes": (16, 64), "win_lengths": (64, 256)}


def mixes(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, 2, 4000, generator=g), torch.randn(3, 2, 4000, generator=g)


def test_the_registered_loss_is_the_stereo_stft_loss():
    loss = get_plugins().resolve("loss", "stereo").create(**SMALL)
    assert isinstance(loss, StereoSTFTLoss)


def test_identical_mixes_score_zero_and_different_ones_do_not():
    loss = StereoSTFTLoss(**SMALL)
    a, b = mixes()
    assert float(loss(a, a)) == pytest.approx(0.0, abs=1e-5)
    assert float(loss(a, b)) > 0.1


def test_swapping_left_and_right_in_both_changes_nothing():
    loss = StereoSTFTLoss(**SMALL)
    a, b = mixes()
    swap = [1, 0]
    assert float(loss(a[:, swap], b[:, swap])) == pytest.approx(float(loss(a, b)), rel=1e-5)


def test_width_errors_are_penalised_but_a_mirrored_image_is_not():
    loss = StereoSTFTLoss(**SMALL)
    a, _ = mixes()
    a[:, 1] *= 0.2  # an off-centre image
    mid, side = a.sum(1, keepdim=True) / 2, (a[:, :1] - a[:, 1:]) / 2
    narrower = torch.cat([mid + 0.3 * side, mid - 0.3 * side], dim=1)
    assert float(loss(narrower, a)) > 0.05
    # |STFT(L-R)| is blind to sign: the documented limit of the paper's loss
    assert float(loss(a[:, [1, 0]], a)) == pytest.approx(0.0, abs=1e-5)


def test_padded_batch_items_do_not_count():
    loss = StereoSTFTLoss(**SMALL)
    a, b = mixes()
    mask = torch.tensor([True, True, False])
    garbage_a, garbage_b = a.clone(), b.clone()
    garbage_a[2] = 1e3 * torch.randn(2, 4000)
    garbage_b[2] = 0.0
    assert float(loss(garbage_a, garbage_b, mask)) == pytest.approx(float(loss(a[:2], b[:2])))


def test_bad_shapes_and_empty_masks_are_refused():
    loss = StereoSTFTLoss(**SMALL)
    a, b = mixes()
    with pytest.raises(ValueError, match="same shape"):
        loss(a, b[:, :, :100])
    with pytest.raises(ValueError, match="no batch item"):
        loss(a, b, torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="too short"):
        loss(a[..., :50], b[..., :50])
    with pytest.raises(ValueError, match="stereo"):
        loss(a[:, :1], b[:, :1])


def test_the_balanced_loss_tells_an_image_from_its_mirror():
    plain = StereoSTFTLoss(**SMALL)
    balanced = get_plugins().resolve("loss", "stereo:balanced").create(**SMALL, balance_fft=256)
    a, _ = mixes()
    a[:, 1] *= 0.2  # leaning left
    mirrored = a.flip(1)
    assert float(plain(mirrored, a)) == pytest.approx(0.0, abs=1e-5)
    assert float(balanced(a, a)) == pytest.approx(0.0, abs=1e-5)
    # |L|^2 = 1, |R|^2 = 0.04 on average: balance ~ +0.92, mirrored ~ -0.92
    assert float(balanced(mirrored, a)) == pytest.approx(2 * 0.96 / 1.04, abs=0.1)


def test_the_placement_term_pulls_a_pan_towards_the_reference_side():
    from console.losses.balance import placement_error

    g = torch.Generator().manual_seed(3)
    source = torch.randn(1, 1, 4000, generator=g)
    reference = torch.cat([source, 0.3 * source], dim=1)  # left of centre
    right_gain = torch.tensor(1.0, requires_grad=True)  # predicted: right of centre
    mix = torch.cat([0.3 * source, right_gain * source], dim=1)
    placement_error(mix, reference, n_fft=256).backward()
    assert right_gain.grad is not None and float(right_gain.grad) > 0  # descent lowers R


def test_the_balanced_loss_refuses_a_negative_weight():
    from console.losses import BalancedStereoLoss

    with pytest.raises(ValueError, match="w_balance"):
        BalancedStereoLoss(w_balance=-1.0)


def test_placement_is_left_right_not_the_spectral_balance_of_evaluate():
    from console.evaluation.spectral_balance import spectral_balance_error_db
    from console.losses.balance import placement_error, tile_placement

    g = torch.Generator().manual_seed(4)
    source = torch.randn(1, 1, 8000, generator=g)
    left = torch.cat([source, torch.zeros_like(source)], dim=1)
    placement, _ = tile_placement(left, n_fft=256, hop=64)
    assert float(placement.mean()) == pytest.approx(1.0, abs=1e-4)  # +1: hard left
    mirrored = left.flip(1)
    assert float(placement_error(mirrored, left, n_fft=256)) == pytest.approx(2.0, abs=1e-4)
    # the same mirror leaves the spectral balance (each band's share of energy) untouched
    bands = spectral_balance_error_db(mirrored[0], left[0], 8000)
    assert max(bands.values()) == pytest.approx(0.0, abs=1e-6)
    description = get_plugins().resolve("loss", "stereo:balanced").factory.description
    assert "placement" in description and "balance" not in description


def test_a_level_matched_loss_ignores_the_overall_level_but_not_the_balance():
    from console.losses.stereo import StereoSTFTLoss

    torch.manual_seed(0)
    reference = 0.1 * torch.randn(2, 2, 16000)
    matched = StereoSTFTLoss(match_level=True)
    plain = StereoSTFTLoss()
    louder = 4.0 * reference
    assert float(matched(louder, reference)) < 1e-4
    assert float(plain(louder, reference)) > 0.5
    unbalanced = reference.clone()
    unbalanced[:, 0] *= 3.0  # the left channel 10 dB up: a balance change, not a level one
    assert float(matched(unbalanced, reference)) > 0.05
    silent = torch.zeros_like(reference)
    assert torch.isfinite(matched(silent, reference))
    gains = torch.ones(1, requires_grad=True)
    matched(gains * unbalanced, reference).backward()
    assert abs(float(gains.grad)) < 1e-3  # a common gain is no longer a decision
