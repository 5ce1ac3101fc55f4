"""EncryptFace: bulk, reversible face privacy for photo archives (the library; the Spark jobs are in
``jobs``)."""
