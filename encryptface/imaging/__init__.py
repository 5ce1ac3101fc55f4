"""Pixels: decoding and encoding, the published-JPEG round trip, colour transfer, metrics and plots."""
