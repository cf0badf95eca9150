# Shared helpers for the rules: which mappings and organisms the params ask for.


def organism_names():
    return list(PARAMS["organisms"])


def used_mappings():
    return sorted({row["mapping"] for row in PARAMS["organisms"].values()})
