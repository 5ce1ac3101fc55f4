"""Thin Spark entry points over the `encryptface` library (run with spark-submit or `encryptface`)."""
