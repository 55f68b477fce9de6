"""il2: a clinical system for high-dose interleukin-2 (aldesleukin) programs."""

__version__ = "0.1.0"
