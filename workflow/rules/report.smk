# report: the paper's figures and tables for every organism, one self-contained HTML file.


rule report:
    input:
        report_inputs,
    output:
        html="report/index.html",
        headline="report/metrics.json",
        plots=directory("report/plots"),
    params:
        files=params_args,
        values=stage_params("report"),
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    threads: 1
    resources:
        mem_mb=res("report", "mem_mb"),
        runtime=res("report", "runtime"),
        gpu=res("report", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare report {params.files} --out report 2> {log:q}"
