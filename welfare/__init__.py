"""welfare: emoji-maze RL, reward concept vectors and steering (Han, Chalmers, Izmailov 2026)."""

__version__ = "0.1.0"
