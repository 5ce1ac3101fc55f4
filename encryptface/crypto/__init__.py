"""Keys and keyed transforms: password -> scrypt master key -> per-face keys, AES-GCM, keyed rotation
and shuffle."""
