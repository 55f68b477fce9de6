"""The `il2` command line: parse, call one service, render."""
