"""A mechanistic model of IL-2 therapy (modeling reference, section (a)).

Pharmacokinetics and receptor binding, in minutes, are computed in closed form and give, for
each dosing interval, the mean receptor signal of each cell type; a small cell-and-tumour model,
in days, is driven by those signals. Parameters are cited data (`science/data/`).
"""
