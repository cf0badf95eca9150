"""The frozen prefix: blocks below the first trainable one are run once, in the rollout.

With LoRA on the top k blocks only (`train.lora.top_layers`), the embeddings and the blocks
below them never change during training. Their output at every token of an episode is the same
in the rollout (computed turn by turn against the KV cache) and in the update (computed over the
whole episode), up to rounding. So the rollout keeps it (`PrefixCapture`, a forward hook on the
last frozen block that scatters each call's rows into one [episodes, positions, d] buffer), and
the update runs only the top blocks on it (`replay_prefix` swaps the frozen blocks for modules
that hand the kept states on). The gradient is exactly the full forward's: nothing below the
first trainable block has a parameter that needs one. `tests/rl/test_prefix.py` checks logits
and LoRA gradients against the plain forward.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


def decoder_layers(model: Any) -> nn.ModuleList:
    return model.get_decoder().layers


def trainable_start(model: Any) -> int:
    """Index of the first decoder block with a trainable parameter; 0 when anything before the
    blocks (the embeddings) trains, or when no block does (nothing to skip)."""
    if any(p.requires_grad for p in model.get_input_embeddings().parameters()):
        return 0
    for index, layer in enumerate(decoder_layers(model)):
        if any(p.requires_grad for p in layer.parameters()):
            return index
    return 0


class PrefixCapture:
    """Keeps the output of block `start − 1` at every real token of a rollout, per episode.

    Use as a context manager around the rollout's turn loop; call `keep(rows, positions, valid)`
    after each forward call with the call's layout (input row → episode, absolute positions,
    which entries are real tokens)."""

    def __init__(self, model: Any, start: int, episodes: int) -> None:
        if start < 1:
            raise ValueError("PrefixCapture: start must be ≥ 1 (a frozen block to keep)")
        self.layer = decoder_layers(model)[start - 1]
        self.start = start
        d = model.get_input_embeddings().embedding_dim
        self.hidden = torch.zeros(episodes, 0, d, dtype=next(model.parameters()).dtype)
        self._last: torch.Tensor | None = None
        self._handle: Any = None

    def __enter__(self) -> PrefixCapture:
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            self._last = output[0] if isinstance(output, tuple) else output

        self._handle = self.layer.register_forward_hook(hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()

    def keep(self, rows: torch.Tensor, positions: torch.Tensor, valid: torch.Tensor) -> None:
        """Scatter the last call's block output: entry (r, w) is episode rows[r]'s token at
        positions[r, w] where valid[r, w]."""
        assert self._last is not None, "PrefixCapture.keep before a forward call"
        out = self._last.detach().to("cpu", self.hidden.dtype)
        needed = int(positions.max()) + 1
        if needed > self.hidden.shape[1]:  # grow by doubling: a copy now and then, not per turn
            self.hidden = fit_width(self.hidden, max(needed, 2 * self.hidden.shape[1]))
        episode = rows[:, None].expand_as(positions)
        self.hidden[episode[valid], positions[valid]] = out[valid.to(out.device)]
        self._last = None


class _Replay(nn.Module):
    """Stands in for block 0: returns the kept states of the frozen prefix."""

    def __init__(self, hidden: torch.Tensor) -> None:
        super().__init__()
        self.hidden = hidden

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.hidden.to(hidden_states.device, hidden_states.dtype)


class _Pass(nn.Module):
    """Stands in for blocks 1 … start − 1: hands its input on."""

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return hidden_states


@contextmanager
def replay_prefix(model: Any, hidden: torch.Tensor | None, start: int) -> Iterator[None]:
    """Within the block, the model's blocks below `start` are replaced by the kept `hidden`
    [batch, length, d] (the batch's right-padded input width). Nothing happens when `hidden` is
    None or `start` is 0."""
    if hidden is None or start < 1:
        yield
        return
    layers = decoder_layers(model)
    frozen = [layers[i] for i in range(start)]
    layers[0] = _Replay(hidden)
    for i in range(1, start):
        layers[i] = _Pass()
    try:
        yield
    finally:
        for i, block in enumerate(frozen):
            layers[i] = block


def fit_width(hidden: torch.Tensor, width: int) -> torch.Tensor:
    """[batch, capacity, d] → [batch, width, d]: cut or zero-pad the position axis. Positions
    past a row's tokens (padding, the final answer, which no decision reads) are never used."""
    if hidden.shape[1] >= width:
        return hidden[:, :width]
    pad = hidden.new_zeros(hidden.shape[0], width - hidden.shape[1], hidden.shape[2])
    return torch.cat([hidden, pad], dim=1)
