"""Example workflows for deeplift (importable so notebooks and ``make demo`` can reuse them)."""
