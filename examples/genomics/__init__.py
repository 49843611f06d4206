"""Genomics example: simulated sequences with embedded GATA and TAL1 motifs."""
