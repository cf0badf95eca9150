"""Maze training (docs/protocol.md §1.6, §2): KV-cached action-masked rollouts, Dr. GRPO, REINFORCE,
SFT."""
