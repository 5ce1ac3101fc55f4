"""Seeded training jobs for the shipped generators (identity-disjoint splits, fits, model cards)."""
