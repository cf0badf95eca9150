"""Steering: add scaled concept vectors to the residual stream, and the battery that measures it.

Modules: `layers` (find decoder blocks), `masks` (assistant-turn masks in absolute positions),
`hooks` (the steering context manager), `vectors` (trained vectors, norm-matched and random
controls), `generate` (batched steered generation and the P(True) probe), `text` / `scorers`
(the organism's lexicon) / `natural` (English) / `judge` / `agreement` (scoring), `stats` (OLS
slopes, Cohen's d), `datasets` (organism corpus, paper-scale loaders, built-in English sets),
`battery` (the α grid), `inputs` (its prompt sets), `maze_eval`, `tracking`; the stages
`stage` (`welfare steer`) and `track_stage` (`welfare track`), what they share (`runtime`), and
the two CLIs that only parse (`cli`, `track_cli`). See docs/steering.md.
"""

from welfare.steering.hooks import steering
from welfare.steering.masks import EncodedChats, encode_chats
from welfare.steering.vectors import SteeringVector, norm_matched_beta, random_direction, vector_set

__all__ = [
    "EncodedChats",
    "SteeringVector",
    "encode_chats",
    "norm_matched_beta",
    "random_direction",
    "steering",
    "vector_set",
]
