# train: maze training of one organism (Dr. GRPO, REINFORCE or SFT; LoRA or full).
# The output is models/{organism}/final/; the step-NNNN/ checkpoints beside it are not declared,
# so Snakemake never deletes them (it removes a failed or rerun job's outputs) and a rerun of a
# killed job resumes from the newest one.


rule train:
    input:
        base=base_model_input,
        eval_mazes=lambda wc: f"data/env/{organism(wc)['mapping']}/eval_mazes.parquet",
        sft=lambda wc: f"data/env/{organism(wc)['mapping']}/sft.parquet",
    output:
        model=directory("models/{organism}/final"),
        curve="metrics/{organism}/train.tsv",
        eval_curve="metrics/{organism}/eval.tsv",
        evaluation="metrics/{organism}/eval.json",
    params:
        files=params_args,
        values=stage_params("train"),
    log:
        "logs/train/{organism}.log",
    benchmark:
        "logs/benchmarks/train/{organism}.tsv"
    threads: model_threads()
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        gpu=res("train", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare train {params.files} --organism {wildcards.organism:q} --out models/{wildcards.organism:q} "
        "--metrics metrics/{wildcards.organism:q} 2> {log:q}"
