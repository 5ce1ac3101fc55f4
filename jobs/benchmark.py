"""Benchmark: the scrub job in Spark versus the same work in one plain Python process.

    python -m jobs.benchmark [--lfw-limit 500] [--master local[2]] [--mode seal]

Both runs use the same library code (`encryptface.batch.scrub_batches`) on the same images and
write the same Parquet; timings are wall-clock, measured in one run of this command.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from encryptface.batch import scrub_batches
from encryptface.config import SAMPLES_DIR, Settings, load_settings
from encryptface.crypto import KdfParams, Password, derive_master_key
from encryptface.records import INPUT_SCHEMA
from encryptface.storage import ObjectInfo, list_objects
from jobs import scrub
from jobs.session import spark_session


def plain_process(objects: list[ObjectInfo], settings: Settings, mode: str, master_key,  # noqa: ANN001
                  output: Path) -> dict:
    """Scrub in this process, batch by batch, and write Parquet with pyarrow."""
    started = time.perf_counter()
    table = pa.Table.from_pylist([{"source_uri": o.uri, "relative_path": o.relative_path,
                                   "size": o.size} for o in objects], schema=INPUT_SCHEMA)
    batches = table.to_batches(max_chunksize=settings.spark.batch_size)
    results = pa.Table.from_batches(list(scrub_batches(batches, settings, mode, master_key)))
    pq.write_table(results, output / "plain.parquet", compression="zstd")
    return _measure(results, time.perf_counter() - started)


def spark_job(objects: list[ObjectInfo], settings: Settings, mode: str, master_key,  # noqa: ANN001
              output: Path, master: str) -> dict:
    """The scrub job's extract/transform/load on ``master``; session start-up timed separately."""
    started = time.perf_counter()
    spark = spark_session(settings.spark, master)
    spark.range(1).count()  # the JVM and a first task are up
    startup = time.perf_counter() - started
    started = time.perf_counter()
    frame = scrub.transform(scrub.extract(spark, objects, settings), settings, mode, master_key)
    records = scrub.load(frame, str(output / "spark"))
    seconds = time.perf_counter() - started
    result = _measure(pq.read_table(records), seconds)
    result["session_startup_s"] = round(startup, 2)
    return result


def backend_speed(settings: Settings, objects: list[ObjectInfo], faces: int = 40) -> dict:
    """Encrypt-mode cost per face on ONE core, OpenVINO vs torch eager, on the same crops:
    the autoencoder alone (encode + decode) and the whole mode.protect (keyed prior included)."""
    import dataclasses

    import cv2
    import torch

    from encryptface.crypto import face_aad
    from encryptface.images import decode_image
    from encryptface.modes import FaceContext, create_mode
    from encryptface.scrubber import Scrubber

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    seal = Scrubber(settings, "seal")
    crops = []
    for info in objects:
        rgb, _ = decode_image(Path(info.uri).read_bytes(), settings.images)
        found = seal.detector.detect(rgb)
        if found:
            aligned = seal.aligner.align(rgb, found[0])
            crops.append((rgb, found[0], aligned, seal.aligner.paste_region(aligned, rgb.shape)))
        if len(crops) == faces:
            break
    result = {}
    for backend in ("openvino", "torch"):
        encrypt_settings = dataclasses.replace(settings.encrypt, backend=backend)
        mode = create_mode("encrypt", settings.replace(encrypt=encrypt_settings), threads=1)
        autoencoder = mode.generator.autoencoder
        autoencoder.decode(autoencoder.encode(crops[0][2].crop[None]))  # warm-up
        started = time.perf_counter()
        for _, _, aligned, _ in crops:
            autoencoder.decode(autoencoder.encode(aligned.crop[None]))
        ae_s = (time.perf_counter() - started) / len(crops)
        started = time.perf_counter()
        for index, (rgb, face, aligned, region) in enumerate(crops):
            mode.protect(rgb, FaceContext(face, aligned, region, bytes(32),
                                          face_aad("bench", index, "encrypt")))
        protect_s = (time.perf_counter() - started) / len(crops)
        result[backend] = {"autoencoder_s_per_face": round(ae_s, 4),
                           "protect_s_per_face": round(protect_s, 4),
                           "faces_per_s_per_core": round(1 / protect_s, 2)}
    result["openvino_speedup_vs_torch"] = round(result["torch"]["protect_s_per_face"]
                                                / result["openvino"]["protect_s_per_face"], 2)
    return result


def _measure(table: pa.Table, seconds: float) -> dict:
    rows = table.select(["status", "faces", "seconds"]).to_pylist()
    faces = sum(len(r["faces"]) for r in rows)
    return {"photos": len(rows), "faces": faces, "errors": sum(r["status"] == "error" for r in rows),
            "wall_s": round(seconds, 2), "faces_per_s": round(faces / seconds, 2),
            "worker_s_per_face": round(sum(r["seconds"] for r in rows) / max(faces, 1), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", default=str(Path(__file__).resolve().parents[1].parent
                                             / "shared" / "data" / "lfw" / "train"))
    parser.add_argument("--lfw-limit", type=int, default=500)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--modes", default="seal,encrypt", help="comma-separated scrub modes")
    parser.add_argument("--output", default="out/bench")
    args = parser.parse_args(argv)
    settings = load_settings()
    # The benchmark's own throwaway password: the KDF cost is paid once per run either way.
    master_key = derive_master_key(Password(b"benchmark"), KdfParams.fresh(settings.kdf))
    datasets = {"samples": list(list_objects(str(SAMPLES_DIR), settings.storage))}
    lfw = Path(args.lfw)
    if lfw.is_dir():
        datasets[f"lfw{args.lfw_limit}"] = list(list_objects(str(lfw), settings.storage))[:args.lfw_limit]
    report = {"master": args.master, "results": {}}
    Path(args.output).mkdir(parents=True, exist_ok=True)
    for mode in args.modes.split(","):
        for name, objects in datasets.items():
            with tempfile.TemporaryDirectory(dir=args.output) as tmp:
                spark = spark_job(objects, settings, mode, master_key, Path(tmp), args.master)
                plain = plain_process(objects, settings, mode, master_key, Path(tmp))
            spark["speedup_vs_plain"] = round(plain["wall_s"] / spark["wall_s"], 2)
            report["results"][f"{mode}/{name}"] = {"spark": spark, "plain": plain}
    print(f"{'mode/dataset':<16} {'engine':<14} {'photos':>6} {'faces':>6} {'wall s':>8} {'faces/s':>8} "
          f"{'wrk s/face':>10} {'vs plain':>8}")
    for name, result in report["results"].items():
        for engine, row in result.items():
            label = args.master if engine == "spark" else "plain process"
            print(f"{name:<16} {label:<14} {row['photos']:>6} {row['faces']:>6} {row['wall_s']:>8} "
                  f"{row['faces_per_s']:>8} {row['worker_s_per_face']:>10} "
                  f"{row.get('speedup_vs_plain', 1.0):>8}")
    if "lfw" in "".join(datasets) and "encrypt" in args.modes:
        speed = backend_speed(settings, datasets[f"lfw{args.lfw_limit}"])
        report["encrypt_backend_one_core"] = speed
        print("encrypt on one core:", json.dumps(speed))
    spark_startup = next(iter(report["results"].values()))["spark"]["session_startup_s"]
    print(f"(Spark session start-up, not in wall s: {spark_startup}s)")
    path = Path(args.output) / "bench.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
