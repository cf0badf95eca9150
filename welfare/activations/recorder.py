"""Record decoder-block outputs at chosen token positions.

`BlockOutputRecorder` is a context manager that hooks every decoder block (or a chosen subset)
and always removes its hooks on exit, exceptions included. Before each forward pass the caller
sets a gather index (batch, P) of token positions; each hook keeps only those positions, so
memory is O(batch · P · layers · d_model) whatever the sequence length. Block outputs may be
tensors or tuples (older transformers); the first tensor is the residual stream.

Oracle: for block `l` < L−1 the recording equals `output_hidden_states[l + 1]`. In transformers 5
the last entry of `hidden_states` is taken after the final norm, so for block L−1 the recording
(the raw residual, the steering site) equals `hidden_states[L]` only before that norm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from welfare.activations.blocks import block_output_tensor, find_decoder_blocks
from welfare.activations.positions import position_ids_from_mask


class _StopForward(Exception):
    """Raised by the last hook to skip the remaining blocks, the final norm and the LM head."""


@dataclass
class BlockOutputRecorder:
    """Hooks on decoder blocks that keep the outputs at `positions` (see module docstring)."""

    model: Any
    layers: Sequence[int] | None = None
    stop_after_last: bool = False
    _handles: list[Any] = field(default_factory=list, init=False, repr=False)
    _captured: dict[int, Any] = field(default_factory=dict, init=False, repr=False)
    _index: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        blocks = find_decoder_blocks(self.model)
        n_layers = len(blocks)
        self.layers = list(range(n_layers)) if self.layers is None else sorted(set(self.layers))
        if not self.layers or min(self.layers) < 0 or max(self.layers) >= n_layers:
            raise ValueError(f"layers must lie in 0..{n_layers - 1}, got {self.layers}")
        self._blocks = blocks

    def __enter__(self) -> BlockOutputRecorder:
        last = self.layers[-1]
        for layer in self.layers:
            hook = self._make_hook(layer, stop=self.stop_after_last and layer == last)
            self._handles.append(self._blocks[layer].register_forward_hook(hook))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._captured.clear()

    def _make_hook(self, layer: int, stop: bool):
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            hidden = block_output_tensor(output)
            if self._index is None:
                self._captured[layer] = hidden.detach()
            else:
                index = self._index.to(hidden.device)
                gathered = hidden.gather(1, index[:, :, None].expand(-1, -1, hidden.shape[-1]))
                self._captured[layer] = gathered.detach()
            if stop:
                raise _StopForward

        return hook

    def run(self, input_ids: Any, attention_mask: Any, positions: Any | None) -> Any:
        """One forward pass; returns block outputs (batch, P, n_layers, d_model) at `positions`
        (a (batch, P) index of padded-batch positions), or at every position when None."""
        import torch

        if not self._handles:
            raise RuntimeError("BlockOutputRecorder.run outside its `with` block")
        self._captured.clear()
        self._index = positions
        try:
            with torch.no_grad():
                self.model(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    position_ids=position_ids_from_mask(attention_mask),
                    use_cache=False,
                )
        except _StopForward:
            pass
        finally:
            self._index = None
        missing = [layer for layer in self.layers if layer not in self._captured]
        if missing:
            raise RuntimeError(f"blocks {missing} did not run during the forward pass")
        out = torch.stack([self._captured[layer] for layer in self.layers], dim=2)
        self._captured.clear()
        return out
