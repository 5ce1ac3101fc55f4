"""Faces in photos: detection, alignment, recognition (and recognisers replayed in torch for
gradients)."""
