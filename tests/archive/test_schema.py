"""The tables' contracts: row helpers and the model_id format restore relies on."""

import numpy as np
import pyarrow as pa

from encryptface.archive.schema import (
    RECORD_SCHEMA,
    STATUS_ERROR,
    error_row,
    generator_of,
    record_face,
    record_model_id,
    to_batch,
)


def test_an_error_row_fits_the_record_schema_and_says_why():
    batch = to_batch([error_row("s3://b/x.jpg", "x.jpg", "not an image")])
    assert batch.schema == RECORD_SCHEMA
    row = batch.to_pylist()[0]
    assert row["status"] == STATUS_ERROR and row["error"] == "not an image" and row["faces"] == []


def test_generator_of_reads_back_what_record_model_id_wrote():
    for mode_id, generator in (("lfw-taef2-pca1024-abc/permuted/openvino-int8", "lfw-taef2-pca1024-abc"),
                               ("mobilestylegan-ffhq-enc128-d6a8/sealed", "mobilestylegan-ffhq-enc128-d6a8"),
                               ("diffusers-tiny-unet/permuted/torch", "diffusers-tiny-unet"),
                               ("seal/pixelate-8/aes-256-gcm", "seal")):
        assert generator_of(record_model_id("face_detection_yunet_2023mar", mode_id)) == generator
    assert generator_of("no-plus-sign") == ""


def test_record_face_restores_the_stored_detection():
    face = {"bbox": [1.0, 2.0, 30.0, 40.0], "landmarks": list(np.arange(10, dtype=float)), "score": 0.9}
    restored = record_face(face)
    assert restored.bbox == (1.0, 2.0, 30.0, 40.0) and restored.landmarks.shape == (5, 2)
    assert restored.landmarks[4, 1] == 9.0 and restored.score == np.float32(0.9)
    assert pa.types.is_list(RECORD_SCHEMA.field("faces").type)
