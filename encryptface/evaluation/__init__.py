"""Measuring protection, realism, quality, recovery and cost, and showing it (report, gallery)."""
