"""An organism's effective training configuration as typed values.

Effective config = ``deep_merge(params["train"], organism["train"])``; keys and defaults are
defined once, in ``welfare/schemas/train.schema.yaml`` (validation fills them in), so this module
only converts, it never invents defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from welfare.config import deep_merge, params_hash
from welfare.rl.losses import ClipConfig

ALGORITHMS = ("drgrpo", "reinforce", "sft")
ADAPTERS = ("full", "lora")


@dataclass(frozen=True)
class OptimizerConfig:
    lr: float
    beta1: float
    beta2: float
    weight_decay: float
    grad_clip: float


@dataclass(frozen=True)
class ScheduleConfig:
    total_steps: int
    fraction: float
    warmup_steps: int


@dataclass(frozen=True)
class TrainConfig:
    """Everything `welfare train` needs to know about one organism's run."""

    organism: str
    base: str
    algorithm: str
    adapter: str
    mapping: str
    seed: int
    steps: int
    mazes_per_step: int
    rotations: int
    rotation_moves: str
    curriculum_steps: int  # the first steps play only `curriculum_turns` turns an episode
    curriculum_turns: int
    group_size: int
    temperature: float
    optimizer: OptimizerConfig
    schedule: ScheduleConfig
    discount: float
    policy_gradient: str
    entropy_coef: float
    kl_coef: float
    clip: ClipConfig
    loss_z: float
    ppo_epochs: int
    minibatches: int
    micro_batch: int
    rollout_batch: int
    lora: dict[str, Any]
    checkpoint_every: int
    checkpoint_format: str
    eval_every: int
    eval_mazes: int
    eval_sampled_group: int
    sft_epochs: float
    sft_batch_size: int

    def fingerprint(self, params: Mapping[str, Any], base: str) -> str:
        """What a checkpoint's trajectory depends on: this config and the maze, env and mapping
        params, less what only adds steps or evaluations (`steps`, checkpoint and eval cadence),
        so a resumed run may be extended but never continues under other params or base."""
        run = asdict(self)
        for key in ("steps", "checkpoint_every", "eval_every", "eval_mazes", "eval_sampled_group"):
            run.pop(key)
        if not run["rollout_batch"]:  # the default: fingerprints from before the key existed hold
            run.pop("rollout_batch")
        if run["policy_gradient"] == "sampled":  # likewise
            run.pop("policy_gradient")
        if run["rotations"] == 1:  # likewise
            run.pop("rotations")
        if run["rotation_moves"] == "independent":  # likewise
            run.pop("rotation_moves")
        if not run["curriculum_steps"]:  # likewise
            run.pop("curriculum_steps")
            run.pop("curriculum_turns")
        run["base"] = base
        world = {k: params.get(k) for k in ("maze", "env")}
        world["mapping"] = params["mappings"][self.mapping]
        return params_hash({"run": run, "world": world})

    @classmethod
    def for_organism(cls, params: Mapping[str, Any], organism: str) -> TrainConfig:
        organisms = params["organisms"]
        if organism not in organisms:
            raise KeyError(f"unknown organism {organism!r} (known: {', '.join(sorted(organisms))})")
        row = organisms[organism]
        t = deep_merge(params["train"], row.get("train") or {})
        episodes = t["mazes_per_step"] * t["group_size"]
        if episodes % t["minibatches"]:
            raise ValueError(
                f"organisms.{organism}: {episodes} episodes per step do not split into "
                f"{t['minibatches']} minibatches"
            )
        return cls(
            organism=organism,
            base=row.get("base", "naive"),
            algorithm=row["algorithm"],
            adapter=row["adapter"],
            mapping=row["mapping"],
            seed=int(row.get("seed", 0)),
            steps=t["steps"],
            mazes_per_step=t["mazes_per_step"],
            rotations=t["rotations"],
            rotation_moves=t["rotation_moves"],
            curriculum_steps=t["curriculum"]["steps"],
            curriculum_turns=t["curriculum"]["turns"],
            group_size=t["group_size"],
            temperature=t["temperature"],
            optimizer=OptimizerConfig(lr=t["lr"], **t["optimizer"]),
            schedule=ScheduleConfig(**t["schedule"]),
            discount=t["discount"],
            policy_gradient=t["policy_gradient"],
            entropy_coef=t["entropy_coef"],
            kl_coef=t["kl_coef"],
            clip=ClipConfig(**t["clip"]),
            loss_z=t["loss_z"],
            ppo_epochs=t["ppo_epochs"],
            minibatches=t["minibatches"],
            micro_batch=t["micro_batch"],
            rollout_batch=t["rollout_batch"],
            lora=dict(t["lora"]),
            checkpoint_every=t["checkpoint"]["every"],
            checkpoint_format=t["checkpoint"]["format"],
            eval_every=t["eval"]["every"],
            eval_mazes=t["eval"]["n_mazes"],
            eval_sampled_group=t["eval"]["sampled_group"],
            sft_epochs=t["sft"]["epochs"],
            sft_batch_size=t["sft"]["batch_size"],
        )
