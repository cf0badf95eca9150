"""Headline numbers of the paper (docs/protocol.md §5), to set a replication's values beside
them."""

from __future__ import annotations

# key -> (what, the paper's value for the primary model, note)
HEADLINE: dict[str, tuple[str, str, str]] = {
    "cos_min_trained": (
        "min over layers of cos(v_Mold, v_Gold), trained",
        "−0.947",
        "−0.84 to −0.95 across the ten models",
    ),
    "cos_min_null_trained": (
        "  its permutation null (mean of shuffled-label minima)",
        "not reported",
        "one-vs-rest noise is already antiparallel",
    ),
    "cos_min_p_trained": ("  p of the trained minimum (max-T over layers)", "not reported", ""),
    "cos_min_adapted_trained": (
        "  the minimum over the LoRA-adapted blocks only, trained",
        "LoRA on every block",
        "blocks below the adapters compute what the naive model does",
    ),
    "cos_min_adapted_null_trained": ("    its permutation null (same blocks)", "", ""),
    "cos_min_adapted_p_trained": ("    its p", "", ""),
    "significant_layers_trained": (
        "  layers beating the null with held-out AUROC > 0.5",
        "not reported",
        "docs/axis.md",
    ),
    "cos_min_control": (
        "min over layers of cos(u_Mold, u_Gold), maze-naive control",
        "−0.13 to −0.23",
        "controls of the ten models",
    ),
    "cos_min_null_control": (
        "  its permutation null (mean of shuffled-label minima)",
        "not reported",
        "",
    ),
    "cos_min_adapted_control": ("  the minimum over the same blocks, control", "", ""),
    "cos_avg_trained": ("layer average of cos(v_Mold, v_Gold), trained", "−0.210", ""),
    "cos_avg_control": ("layer average of cos(u_Mold, u_Gold), control", "+0.089", ""),
    "tile_mold_gold_trained": ("centred tile-mean cos(Mold, Gold), trained", "−0.813", "at L24"),
    "tile_mold_gold_control": ("centred tile-mean cos(Mold, Gold), naive", "+0.086", "at L24"),
    "norm_v_mold": ("‖v_Mold‖ at its steering layer", "4.07", "L20"),
    "norm_v_gold": ("‖v_Gold‖ at its steering layer", "14.37", "L22"),
    "emotion_slope_trained": ("emotion scatter slope, trained", "≈ −1", "cloud before training"),
    "slope_sentiment_v_mold": ("sentiment slope per unit α, v_Mold", "−0.23", "peak −0.65"),
    "slope_sentiment_v_gold": ("sentiment slope per unit α, v_Gold", "+0.71", ""),
    "slope_backtracking_v_mold": ("backtracking slope, v_Mold", "+0.10", ""),
    "slope_backtracking_v_gold": ("backtracking slope, v_Gold", "−0.08", ""),
    "slope_refusal_v_mold": ("refusal slope, v_Mold", "+0.03", ""),
    "slope_refusal_v_gold": ("refusal slope, v_Gold", "−0.04", ""),
    "slope_p_true_v_mold": ("P(True) slope, v_Mold", "−0.12 / −0.13", "MMLU / SimpleQA"),
    "slope_p_true_v_gold": ("P(True) slope, v_Gold", "+0.15", "MMLU and SimpleQA"),
    "tracking_d_trained": ("goal tracking effect size d, trained", "> 1.6", ""),
    "tracking_d_naive": ("goal tracking effect size d, naive", "|d| < 0.12", "Base"),
}

# Rows shown only where an organism trained LoRA on its top blocks only (axis.json `adapted_from`)
ADAPTED_ROWS = frozenset(key for key in HEADLINE if "_adapted_" in key)

# docs/protocol.md Table 1 rows an organism-scale row stands for, by (algorithm, mapping): the row's
# label and its trained min / layer-average cos(v_Mold, v_Gold) (Table 7). Every Instruct row's
# maze-naive control has min −0.131 and average +0.089. The paper's tile swap is Dr. GRPO.
PAPER_ROWS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("drgrpo", "office"): ("1 primary (Dr. GRPO, LoRA)", "−0.947", "−0.210"),
    ("drgrpo", "office_swap"): ("2 choice of emoji (Mold↔Gold swapped)", "−0.910", "−0.060"),
    ("reinforce", "office_swap"): (
        "2 choice of emoji (swapped; Dr. GRPO there)",
        "−0.910",
        "−0.060",
    ),
    ("reinforce", "office"): ("7 the algorithm (token-level REINFORCE)", "−0.943", "−0.272"),
    ("sft", "office"): ("8 RL vs supervised (SFT, LoRA)", "−0.844", "−0.344"),
}
PAPER_CONTROL_MIN = "−0.131"
# Steering slopes per unit α are reported for the primary model only (docs/protocol.md §5 item 8).
PAPER_PRIMARY_SLOPES = {"sentiment": ("−0.23", "+0.71"), "p_true": ("−0.12", "+0.15")}
