"""The pure clinical core: value objects and decisions, standard library only.

Nothing here reads files, the clock or the environment; rule tables and "now" come in as
arguments, so every answer is reproducible from its inputs.
"""
