"""Per photo and per batch: scrub, restore and verify, as Spark workers and plain processes run them."""
