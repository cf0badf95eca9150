"""The report: the paper's figures and tables for every organism, as one self-contained HTML file
(`welfare report`), plus the tidy tables behind the figures (DVC plots) and a headline
`metrics.json`. Every figure tolerates a missing or partial metrics file: it says what is not
available instead of failing, so a report can be built at any point of the DAG."""
