"""Use cases: what a user of il2 asks it to do, independent of how they ask."""
