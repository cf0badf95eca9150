# The organism's own pretraining (organism scale only): corpus -> tokenizer -> maze-naive model.
# The default run starts from the kept organism (params.naive: organisms/reference) and needs only
# the corpus (held-out evaluation prompts); `naive: models/naive` makes every `base: naive` row
# start from this run's pretraining, and `snakemake scratch` pretrains it (with its acceptance)
# whatever params.naive says. At paper scale no organism has `base: naive`.


rule corpus:
    output:
        train="data/corpus/train.jsonl",
        heldout="data/corpus/heldout.jsonl",
    params:
        files=params_args,
        values=stage_params("corpus"),
    log:
        "logs/corpus.log",
    benchmark:
        "logs/benchmarks/corpus.tsv"
    threads: 1
    resources:
        mem_mb=res("corpus", "mem_mb"),
        runtime=res("corpus", "runtime"),
        gpu=res("corpus", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare corpus {params.files} --out data/corpus 2> {log:q}"


rule tokenizer:
    input:
        train="data/corpus/train.jsonl",
    output:
        directory("models/tokenizer"),
    params:
        files=params_args,
        values=stage_params("tokenizer"),
    log:
        "logs/tokenizer.log",
    benchmark:
        "logs/benchmarks/tokenizer.tsv"
    threads: 1
    resources:
        mem_mb=res("tokenizer", "mem_mb"),
        runtime=res("tokenizer", "runtime"),
        gpu=res("tokenizer", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare tokenizer {params.files} --corpus data/corpus --out {output:q} 2> {log:q}"


rule pretrain:
    input:
        train="data/corpus/train.jsonl",
        heldout="data/corpus/heldout.jsonl",
        tokenizer="models/tokenizer",
    output:
        model=directory("models/naive"),
        summary="metrics/naive/pretrain.json",
        curve="metrics/naive/pretrain.tsv",
        reading="metrics/naive/reading_probe.tsv",
        acceptance="metrics/naive/acceptance.json",
    params:
        files=params_args,
        values=stage_params("pretrain"),
    log:
        "logs/pretrain.log",
    benchmark:
        "logs/benchmarks/pretrain.tsv"
    threads: pretrain_threads()
    resources:
        mem_mb=res("pretrain", "mem_mb"),
        runtime=res("pretrain", "runtime"),
        gpu=res("pretrain", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare pretrain {params.files} --corpus data/corpus --tokenizer {input.tokenizer:q} "
        "--out {output.model:q} --metrics metrics/naive 2> {log:q}"


# Pretraining from scratch as one target (DVC's `pretrain` stage): the organism and its acceptance.
rule scratch:
    input:
        "metrics/naive/acceptance.json",
