"""Record decoder-block outputs of a model into a Zarr v3 activation store. See docs/axis.md.

Public API::

    BlockOutputRecorder(model, layers=None)    # context manager; hooks removed on exit
    find_decoder_blocks(model)
    record_chats(model, chats, position="last" | "assistant_template" | ("letter", "decision"), ...)
    render_chat(tokenizer, messages) -> RenderedChat
    open_activations(path) -> xarray.Dataset (dask-backed)
"""

from welfare.activations.blocks import find_decoder_blocks
from welfare.activations.record import record_chats
from welfare.activations.recorder import BlockOutputRecorder
from welfare.activations.render import RenderedChat, render_chat
from welfare.activations.store import open_activations

__all__ = [
    "BlockOutputRecorder",
    "RenderedChat",
    "find_decoder_blocks",
    "open_activations",
    "record_chats",
    "render_chat",
]
