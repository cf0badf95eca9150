"""Pretraining's configuration as typed, frozen values, made once at the stage's entry.

`PretrainConfig.from_params(params)` reads the validated `pretrain` section (keys and defaults
are defined once, in workflow/schemas/pretrain.schema.yaml, which validation fills in) and the
few other sections pretraining reads (maze, mappings for the acceptance's prompts); after it, only
typed fields travel. It converts, never invents defaults.

The schedule of the training rows is one list, `phases`: from each phase's `start` on, the
corpus's blocks come from `corpus_genres` (None: every genre) and the fresh rows from
`fresh_genres` with `fresh_overrides`. The params describe it with two older mechanisms, kept
as keys: `pretrain.curriculum` (the first `steps` steps draw the corpus's blocks from its
`genres` only) and `pretrain.fresh` (`few_clauses`: the binding curriculum's first fresh phase;
`genres`/`overrides`: the phase after it; `phases`: later ones); `phases_of` merges them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from welfare.config import deep_merge
from welfare.lm import cosine_multiplier
from welfare.maze import MazeConfig, TileMapping

# A restarted try runs as `pretrain.seed + RESTART_SEED_STRIDE · (try - 1)` would.
RESTART_SEED_STRIDE = 1000
# Fresh rows draw from `seed + FRESH_SEED_OFFSET` (the try's seed), the corpus curriculum's
# blocks from `seed + CURRICULUM_SEED_OFFSET`, the corpus's own blocks from `seed`.
FRESH_SEED_OFFSET = 2
CURRICULUM_SEED_OFFSET = 1


@dataclass(frozen=True)
class Phase:
    """Where the training rows come from from step `start` on."""

    start: int
    corpus_genres: tuple[str, ...] | None  # None: every genre of the corpus
    fresh_genres: tuple[str, ...] | Mapping[str, float]  # a list (uniform) or genre -> weight
    fresh_overrides: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class RestartCheck:
    """At this step of a try, each of `questions` must reach `min_accuracy` on the probe."""

    questions: tuple[str, ...]
    min_accuracy: float


@dataclass(frozen=True)
class RestartRule:
    """Whether the reading circuit binds is close to a coin flip per seed at organism size, and
    it shows early: at each check's step the reading probe is read and, if a named accuracy is
    below the check's bar, the try is dropped and the next starts as `seed + 1000` would, up
    to `max_tries` tries in all."""

    checks: tuple[tuple[int, RestartCheck], ...]  # (step, check), in order of step
    max_tries: int

    @classmethod
    def from_section(cls, rule: Mapping[str, Any]) -> RestartRule:
        """`pretrain.restart`: `at_step`; `early.at_step` (an earlier, cheaper check: "what"
        binds before "where"); `late.at_step` (a later one: four-clause "where" can fail to
        consolidate after the curriculum bound). The extra checks take the rule's bar unless
        they name their own. `at_step` 0 turns the rule off, extra checks included; an extra
        check's `at_step` 0 turns only it off."""
        checks: dict[int, RestartCheck] = {}
        if rule["at_step"]:
            bar = float(rule["min_accuracy"])
            checks[int(rule["at_step"])] = RestartCheck(tuple(rule["questions"]), bar)
            for name in ("early", "late"):
                extra = rule[name]
                if extra["at_step"]:
                    own = extra["min_accuracy"]
                    checks[int(extra["at_step"])] = RestartCheck(
                        tuple(extra["questions"]), bar if own is None else float(own)
                    )
        return cls(tuple(sorted(checks.items())), int(rule["max_tries"]))

    def check_at(self, step: int) -> RestartCheck | None:
        return dict(self.checks).get(step)

    def failed(self, step: int, accuracy: Mapping[str, float], tries: int) -> list[str]:
        """The probes below the bar of `step`'s check, when another try is still allowed."""
        check = self.check_at(step)
        if check is None or tries >= self.max_tries:
            return []
        return [q for q in check.questions if accuracy[q] < check.min_accuracy]

    @staticmethod
    def seed(seed: int, tries: int) -> int:
        """The seed try number `tries` (from 1) draws its initialisation and data from."""
        return seed + RESTART_SEED_STRIDE * (tries - 1)


@dataclass(frozen=True)
class ProbeConfig:
    """`pretrain.reading_probe`: every `every` steps (0: only at restart checks and the end),
    `n` questions per reading probe (0: none), `neighbours` deep maze prompts (0: none)."""

    every: int
    n: int
    neighbours: int


@dataclass(frozen=True)
class AcceptanceConfig:
    """`pretrain.acceptance`: sizes of the checks, and the maze and tile mapping of the probe
    and indifference prompts."""

    n_items: int
    scene_questions: int
    probe_episodes: int
    deep_turn_min: int
    max_new_tokens: int
    maze: MazeConfig
    mapping: TileMapping

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AcceptanceConfig:
        acc = params["pretrain"]["acceptance"]
        return cls(
            n_items=int(acc["n_items"]),
            scene_questions=int(acc["scene_questions"]),
            probe_episodes=int(acc["probe_episodes"]),
            deep_turn_min=int(acc["deep_turn_min"]),
            max_new_tokens=int(acc["max_new_tokens"]),
            maze=MazeConfig.from_params(params["maze"]),
            mapping=TileMapping.from_params(params, acc["mapping"]),
        )


@dataclass(frozen=True)
class PretrainConfig:
    """Everything `welfare pretrain` needs to know about the run."""

    seed: int
    model: Mapping[str, Any]  # the architecture's sizes (welfare.model.organism)
    seq_len: int
    batch_size: int
    steps: int
    lr: float
    min_lr_ratio: float
    warmup_steps: int
    weight_decay: float
    grad_clip: float
    loss_on: str
    document_mask: bool
    fresh_blocks: int  # blocks of every batch made of fresh rows (0: none)
    phases: tuple[Phase, ...]
    probe: ProbeConfig
    restart: RestartRule
    eval_rows_per_genre: int
    checkpoint_every: int
    acceptance: AcceptanceConfig
    # The validated section as given: written beside the weights (organism.json) and hashed
    # into the resume state's fingerprint, so both read as they always have.
    section: Mapping[str, Any]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PretrainConfig:
        cfg = params["pretrain"]
        probe = cfg["reading_probe"]
        return cls(
            seed=int(cfg["seed"]),
            model=dict(cfg["model"]),
            seq_len=int(cfg["seq_len"]),
            batch_size=int(cfg["batch_size"]),
            steps=int(cfg["steps"]),
            lr=float(cfg["lr"]),
            min_lr_ratio=float(cfg["min_lr_ratio"]),
            warmup_steps=int(cfg["warmup_steps"]),
            weight_decay=float(cfg["weight_decay"]),
            grad_clip=float(cfg["grad_clip"]),
            loss_on=str(cfg["loss_on"]),
            document_mask=bool(cfg["document_mask"]),
            fresh_blocks=int(cfg["fresh"]["blocks"]),
            phases=phases_of(cfg["curriculum"], cfg["fresh"]),
            probe=ProbeConfig(int(probe["every"]), int(probe["n"]), int(probe["neighbours"])),
            restart=RestartRule.from_section(cfg["restart"]),
            eval_rows_per_genre=int(cfg["eval_rows_per_genre"]),
            checkpoint_every=int(cfg["checkpoint_every"]),
            acceptance=AcceptanceConfig.from_params(params),
            section=cfg,
        )

    def phase_index(self, step: int) -> int:
        """The index in `phases` of the phase `step` belongs to."""
        return max(i for i, phase in enumerate(self.phases) if phase.start <= step)

    def phase_at(self, step: int) -> Phase:
        return self.phases[self.phase_index(step)]

    def learning_rate(self, step: int) -> float:
        """Linear warmup, then cosine from `lr` down to `lr · min_lr_ratio`."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        floor = self.min_lr_ratio
        cosine = cosine_multiplier(step - self.warmup_steps, self.steps - self.warmup_steps)
        return self.lr * (floor + (1 - floor) * cosine)


def _genres(genres: Sequence[str] | Mapping[str, float]) -> tuple[str, ...] | Mapping[str, float]:
    return dict(genres) if isinstance(genres, Mapping) else tuple(genres)


def phases_of(curriculum: Mapping[str, Any], fresh: Mapping[str, Any]) -> tuple[Phase, ...]:
    """One phase list from `pretrain.curriculum` and `pretrain.fresh`: the binding curriculum
    `few_clauses` (its scenes name only `clauses` directions, drawn from its own `genres` when
    it names them), then `genres`, then each of `phases` from its `from_step` on (its overrides
    merged over `fresh.overrides`); the corpus's blocks from `curriculum.genres` for the first
    `curriculum.steps` steps, from every genre after."""
    few, overrides = fresh["few_clauses"], fresh["overrides"]
    fresh_phases: list[tuple[int, Any, Mapping[str, Any]]] = []
    if few["steps"]:
        clauses = {"min_clauses": few["clauses"], "max_clauses": few["clauses"]}
        early = deep_merge(overrides, {"spatial_reading": clauses})
        fresh_phases.append((0, few["genres"] or fresh["genres"], early))
    fresh_phases.append((int(few["steps"]), fresh["genres"], overrides))
    for phase in fresh["phases"]:
        later = deep_merge(overrides, phase["overrides"])
        fresh_phases.append((int(phase["from_step"]), phase["genres"], later))
    warm = int(curriculum["steps"])
    starts = sorted({start for start, _, _ in fresh_phases} | ({warm} if warm else set()))
    phases = []
    for start in starts:
        _, genres, phase_overrides = [p for p in fresh_phases if p[0] <= start][-1]
        corpus = tuple(curriculum["genres"]) if start < warm else None
        phases.append(Phase(start, corpus, _genres(genres), phase_overrides))
    return tuple(phases)
