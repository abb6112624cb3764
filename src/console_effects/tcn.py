"""A temporal convolutional network conditioned on an effect's parameters (FiLM).

The emulators of :mod:`console_effects.emulator` wrap one of these. Each block
is a dilated 1-D convolution whose output is scaled and shifted per channel by
a FiLM layer (Perez et al., 2018) fed with the effect's normalised parameters,
then a PReLU, with a 1x1 residual path. The convolutions are causal: every
effect emulated here (biquads, a compressor, a reverb) only looks back in
time, so the whole receptive field is spent on the past and the network runs
on a clip of any length, sample for sample.

A *linear* TCN (``TCNConfig(linear=True)``) drops the biases, the FiLM shift
and the PReLU: for fixed settings it is then a linear time-invariant filter,
as an EQ is, and :meth:`ConditionedTCN.frequency_response` gives its exact
transfer function at any frequencies without running audio through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

#: The ``network`` entry of a TCN's config.
TCN_NETWORK = "tcn"
#: Samples (rows x time) a TCN runs at once when nothing needs its gradient.
PIECE_SAMPLES = 1 << 18


@attrs.frozen
class TCNConfig:
    """Shape of a :class:`ConditionedTCN`; saved in every emulator checkpoint."""

    num_params: int
    in_channels: int = 1
    out_channels: int = 1
    channels: int = 32
    kernel_size: int = 13
    dilations: tuple[int, ...] = attrs.field(default=(1, 6, 36, 216, 1296), converter=tuple)
    cond_dim: int = 32
    #: No biases, FiLM shift or activation: an LTI filter for fixed settings.
    linear: bool = False
    #: Always :data:`TCN_NETWORK`: tells a TCN's checkpoints from the grey-box networks'
    #: (checkpoints written before the field existed have no entry and are TCNs too).
    network: str = attrs.field(default="tcn", validator=attrs.validators.in_(("tcn",)))

    @property
    def receptive_field(self) -> int:
        """Samples of input that one output sample depends on (itself included)."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["dilations"] = list(self.dilations)
        return data


class FiLM(nn.Module):
    """Per-channel scale (and shift, unless ``shift=False``) computed from a conditioning vector."""

    def __init__(self, cond_dim: int, channels: int, shift: bool = True) -> None:
        super().__init__()
        self.shift = shift
        self.project = nn.Linear(cond_dim, (2 if shift else 1) * channels)
        with torch.no_grad():  # start near the identity (scale 1, shift 0) but not on it:
            # a network blind to its parameters at the start can settle on bypass for an
            # EQ, whose average over random settings is no change at all.
            self.project.weight.mul_(0.2)
            start = [torch.ones(channels)] + ([torch.zeros(channels)] if shift else [])
            self.project.bias.copy_(torch.cat(start))

    def scale(self, cond: torch.Tensor) -> torch.Tensor:
        """``(N, channels)`` scales: all of a linear FiLM's effect."""
        return self.project(cond)[:, : self.project.out_features // (2 if self.shift else 1)]

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if not self.shift:
            return x * self.project(cond)[..., None]
        scale, shift = self.project(cond)[..., None].chunk(2, dim=1)
        return x * scale + shift


class TCNBlock(nn.Module):
    """Causal dilated convolution, FiLM, PReLU, plus a 1x1 residual (no PReLU if linear)."""

    def __init__(
        self, in_channels: int, channels: int, kernel_size: int, dilation: int, cond_dim: int,
        linear: bool = False,
    ) -> None:
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(
            in_channels, channels, kernel_size, dilation=dilation, bias=not linear
        )
        self.film = FiLM(cond_dim, channels, shift=not linear)
        self.act = nn.Identity() if linear else nn.PReLU(channels)
        self.residual = nn.Conv1d(in_channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        y = self.conv(nn.functional.pad(x, (self.left_pad, 0)))
        return self.act(self.film(y, cond)) + self.residual(x)

    def transfer(self, omega: torch.Tensor) -> torch.Tensor:
        """``(F, out, in)`` complex response of the (causal) convolution at ``omega`` rad/sample."""
        weight = self.conv.weight  # (out, in, taps)
        out, inp, taps = weight.shape
        delays = (taps - 1 - torch.arange(taps, device=weight.device)) * self.conv.dilation[0]
        angle = -omega.to(torch.float64)[:, None] * delays
        phase = torch.polar(torch.ones_like(angle), angle)  # (F, taps), exact in float64
        taps_first = weight.permute(2, 0, 1).reshape(taps, out * inp).to(phase.dtype)
        return torch.matmul(phase, taps_first).reshape(-1, out, inp)


class ConditionedTCN(nn.Module):
    """``(N, C_in, T)`` audio and ``(N, P)`` parameters in ``[0, 1]`` to ``(N, C_out, T)``.

    The output layer starts at zero, so an untrained network adds nothing; the
    emulators add its output to a dry path, which makes bypass the starting
    point of training rather than whatever the random layers would add (with
    their biases, as loud as the input itself).
    """

    def __init__(self, config: TCNConfig) -> None:
        super().__init__()
        self.config = config
        self.condition = nn.Sequential(
            nn.Linear(config.num_params, config.cond_dim),
            nn.PReLU(config.cond_dim),
            nn.Linear(config.cond_dim, config.cond_dim),
            nn.PReLU(config.cond_dim),
        )
        ins = [config.in_channels] + [config.channels] * (len(config.dilations) - 1)
        self.blocks = nn.ModuleList(
            TCNBlock(c, config.channels, config.kernel_size, d, config.cond_dim, config.linear)
            for c, d in zip(ins, config.dilations, strict=True)
        )
        self.output = nn.Conv1d(config.channels, config.out_channels, 1, bias=not config.linear)
        with torch.no_grad():  # zero: an untrained network adds nothing (its own gradient is
            # not zero, so the first step moves it and the layers before it learn from then on)
            self.output.weight.zero_()
            if self.output.bias is not None:
                self.output.bias.zero_()

    @property
    def receptive_field(self) -> int:
        return self.config.receptive_field

    def forward(self, x: torch.Tensor, normalised: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"The TCN takes (N, {self.config.in_channels}, T) audio, got {tuple(x.shape)}."
            )
        frozen = not any(p.requires_grad for p in self.parameters())
        if frozen and torch.is_grad_enabled() and (x.requires_grad or normalised.requires_grad):
            # Frozen inside a console that trains through it: keep only each piece's input
            # and run its blocks again in the backward pass, instead of keeping every block's
            # activations for every track (gigabytes for a batch of songs). Not folded: the
            # gradient of a grouped convolution's per-row weights costs more than it saves.
            return self._in_pieces(
                x, normalised, lambda xs, us: checkpoint(self._run, xs, us, use_reentrant=False))
        if not torch.is_grad_enabled() or frozen:
            return self._in_pieces(x, normalised,
                                   self._run_linear if self.config.linear else self._run)
        return self._run(x, normalised)

    def _in_pieces(
        self, x: torch.Tensor, normalised: torch.Tensor,
        run: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """``run`` on at most :data:`PIECE_SAMPLES` samples at a time: the same numbers.

        Rows are grouped up to that size, and a longer row is cut in time, each piece
        with the receptive field's samples before it as context (the outputs there,
        which lack their own context, are dropped). The blocks' activations of a
        piece then stay near the processor's caches: on 8 tracks x 10 s the
        compressor's forward pass took 0.055 CPU-s per track-second in one call and
        0.023 track by track.
        """
        n, _, length = x.shape
        if n * length <= PIECE_SAMPLES:
            return run(x, normalised)
        if length <= PIECE_SAMPLES:
            rows = max(1, PIECE_SAMPLES // length)
            return torch.cat([run(x[i : i + rows], normalised[i : i + rows])
                              for i in range(0, n, rows)])
        context = self.receptive_field - 1
        step = max(PIECE_SAMPLES, 2 * context)
        out = []
        for i in range(n):
            pieces = []
            for start in range(0, length, step):
                first = max(0, start - context)
                y = run(x[i : i + 1, :, first : start + step], normalised[i : i + 1])
                pieces.append(y[..., start - first :])
            out.append(torch.cat(pieces, dim=-1))
        return torch.cat(out)

    def _run_linear(self, x: torch.Tensor, normalised: torch.Tensor) -> torch.Tensor:
        """:meth:`_run` of a linear TCN with each block one convolution (the same numbers).

        A linear block is ``scale * conv(x) + residual(x)``: the FiLM scale folds into
        each row's convolution weights and the 1x1 residual into its last tap (no
        delay), so a block is one grouped convolution (a group per row) instead of a
        convolution, a scaling, a second convolution and a sum, each a pass over
        memory; and the input is padded once for the whole stack. A quarter less CPU
        time for the EQ's sections.
        """
        cond = self.condition(normalised.to(x.dtype))
        n, c_in, _ = x.shape
        h = nn.functional.pad(x, (sum(b.left_pad for b in self.blocks), 0)).reshape(1, n * c_in, -1)
        for block in self.blocks:
            weight = block.conv.weight  # (C, C_in, K)
            rows = block.film.scale(cond)[:, :, None, None] * weight  # (N, C, C_in, K)
            rows = torch.cat([rows[..., :-1], rows[..., -1:] + block.residual.weight], dim=-1)
            h = nn.functional.conv1d(h, rows.reshape(-1, weight.shape[1], weight.shape[2]),
                                     dilation=block.conv.dilation[0], groups=n)
        h = h.reshape(n, self.config.channels, -1)
        return torch.einsum("oc,nct->not", self.output.weight[..., 0], h)

    def _run(self, x: torch.Tensor, normalised: torch.Tensor) -> torch.Tensor:
        cond = self.condition(normalised.to(x.dtype))
        for block in self.blocks:
            x = block(x, cond)
        return self.output(x)

    def frequency_response(self, normalised: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        """``(N, C_out, C_in, F)`` complex transfer function at ``omega`` (radians per sample).

        Exact for a linear TCN (it equals the DFT of the impulse response); the
        cost does not depend on the receptive field, so fitting a response is
        far cheaper than running audio. Other TCNs have no transfer function.
        """
        if not self.config.linear:
            raise ValueError("Only a linear TCN (TCNConfig(linear=True)) has a frequency response.")
        real = self.output.weight.dtype
        dtype = torch.complex128 if real == torch.float64 else torch.complex64
        n, c_in, f = normalised.shape[0], self.config.in_channels, omega.shape[0]
        cond = self.condition(normalised.to(real))
        # v[f, (n, i), c]: response at frequency f from input channel i to channel c, so far
        eye = torch.eye(c_in, dtype=dtype, device=omega.device)
        v = eye.expand(f, n, c_in, c_in).reshape(f, n * c_in, c_in)
        for block in self.blocks:
            scale = block.film.scale(cond).repeat_interleave(c_in, dim=0).to(dtype)
            residual = block.residual.weight[..., 0].t().to(dtype)
            v = torch.matmul(v, block.transfer(omega).to(dtype).transpose(1, 2)) * scale + (
                torch.matmul(v, residual)
            )
        out = torch.matmul(v, self.output.weight[..., 0].t().to(dtype))  # (F, N * C_in, C_out)
        return out.reshape(f, n, c_in, -1).permute(1, 3, 2, 0)


def geometric_dilations(growth: int, blocks: int) -> Sequence[int]:
    """``1, growth, growth**2, ...``: ``blocks`` dilations that cover a long span densely.

    With a growth below the kernel size every past offset within the
    receptive field is reachable.
    """
    return tuple(growth**i for i in range(blocks))
