"""The `il2` command line (shared/contract.md): parse, call one service, render."""
