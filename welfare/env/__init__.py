"""The env stage (docs/protocol.md §3.1): extraction trajectories, held-out eval mazes, SFT
demonstrations.

Public API::

    render_trajectory_messages(row, params, mapping_name) -> list[dict]   # extraction.parquet row
    render_sft_messages(row, params, mapping_name) -> list[dict]          # sft.parquet row
"""

from welfare.env.messages import ReplayError, render_sft_messages, render_trajectory_messages

__all__ = ["ReplayError", "render_sft_messages", "render_trajectory_messages"]
