"""Benchmark: the project's performance table in one run on this machine.

    python -m benchmarks.benchmark [--limits seal=2000,encrypt=200,cloak=40] [--masters local[2],local[1]]
    python -m benchmarks.benchmark --quick      # smoke run for CI (a few photos per mode)
    python -m benchmarks.benchmark --limits seal=300,encrypt=150 --masters local[2] --repeats 3
    python -m benchmarks.benchmark --table-only --masters local[2]   # the folder-vs-table row only

Per mode, on the first N LFW photos (by path): the scrub job in Spark (each master in
``--masters``) versus the workers' own function (`encryptface.pipeline.batch.scrub_to_file`) in one plain
Python process and in two (one per core), writing the same Parquet; peak RSS per Spark Python
worker; then per model, on ONE core, OpenVINO versus torch eager. First, the whole scrub job on the
same photos as a folder and as a Parquet table (``--table-only``: just that row). Wall-clock
timings of one run (``--repeats N``: the median of N timed runs of every engine, each after the same warm-up).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.detection_cost import cost_table, detection_cost
from encryptface.archive.schema import INPUT_SCHEMA, STATUS_ERROR
from encryptface.archive.storage import ObjectInfo, list_objects
from encryptface.config import Settings, load_settings
from encryptface.crypto.keys import KdfParams, Password, derive_master_key
from encryptface.modes import is_reversible
from encryptface.pipeline.batch import scrub_to_file
from jobs import scrub
from jobs.common import spark_session

# Every engine is timed warm: its processes started, the code imported and the models loaded by a
# warm-up run of a few photos first (timed apart, as `warmup_s`). That start-up is a fixed cost per
# job; what an archive pays per photo is the warm rate, which the ratios compare.
WARMUP_PHOTOS = 4


def _scrub_share(objects: list[ObjectInfo], settings: Settings, mode: str, master_key,  # noqa: ANN001
                 folder: Path, partition: int, threads: int = 0) -> Path:
    """``objects`` through the workers' own function (scrub, then one zstd Parquet file written as a
    Spark task writes it) in this process; returns the file."""
    keys = pa.Table.from_pylist([{"source_uri": o.uri, "relative_path": o.relative_path,
                                  "size": o.size} for o in objects], schema=INPUT_SCHEMA)
    return folder / scrub_to_file(keys, settings, mode, master_key, str(folder), partition,
                                  threads=threads)


def plain_process(objects: list[ObjectInfo], settings: Settings, mode: str, master_key,  # noqa: ANN001
                  output: Path, repeats: int = 1) -> dict:
    """Scrub in this process (native libraries on all cores), batch by batch, writing Parquet."""
    started = time.perf_counter()
    _scrub_share(objects[:WARMUP_PHOTOS], settings, mode, master_key, output / "warmup", 0)
    warmup = time.perf_counter() - started
    walls = []
    for repeat in range(repeats):
        started = time.perf_counter()
        path = _scrub_share(objects, settings, mode, master_key, output / f"plain{repeat}", 0)
        walls.append(time.perf_counter() - started)
    return _measure(pq.read_table(path), walls) | {"warmup_s": round(warmup, 2)}


def _warm_share(objects: list[ObjectInfo], settings: Settings, mode: str, master_key,  # noqa: ANN001
                folder: Path, partition: int) -> None:
    _scrub_share(objects, settings, mode, master_key, folder, partition, threads=1)
    time.sleep(1.0)  # hold this process so that the other warm-up lands in the other one


def plain_processes(objects: list[ObjectInfo], settings: Settings, mode: str, master_key,  # noqa: ANN001
                    output: Path, processes: int = 2, repeats: int = 1) -> dict:
    """The same work split over ``processes`` Python processes (one per core, one native thread
    each, as Spark's workers run), each writing its own Parquet file."""
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    # As PySpark does for its workers (OMP_NUM_THREADS = the task's cores): without it each child
    # starts OpenMP with a thread per core before its thread limit applies, and the spinning idle
    # threads of two processes halved each one's speed (measured on encrypt).
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # the children start when the first task is submitted
    parts = list(range(processes))
    try:
        with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
            started = time.perf_counter()
            list(pool.map(_warm_share, [objects[:WARMUP_PHOTOS]] * processes, [settings] * processes,
                          [mode] * processes, [master_key] * processes, [output / "warmup"] * processes,
                          parts))
            warmup = time.perf_counter() - started
            walls = []
            for repeat in range(repeats):
                started = time.perf_counter()
                paths = list(pool.map(_scrub_share, [objects[i::processes] for i in parts],
                                      [settings] * processes, [mode] * processes,
                                      [master_key] * processes, [output / f"plain{repeat}"] * processes,
                                      parts, [1] * processes))
                walls.append(time.perf_counter() - started)
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS")
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    result = _measure(pa.concat_tables([pq.read_table(p) for p in paths]), walls)
    return result | {"warmup_s": round(warmup - 1.0, 2)}


def spark_job(objects: list[ObjectInfo], settings: Settings, mode: str, master_key,  # noqa: ANN001
              output: Path, master: str, repeats: int = 1) -> dict:
    """The scrub job's extract/transform/load on ``master``; session start-up timed separately."""
    started = time.perf_counter()
    spark = spark_session(settings.spark, master)
    spark.range(1).count()  # the JVM and a first task are up
    startup = time.perf_counter() - started
    started = time.perf_counter()
    warm = objects[:WARMUP_PHOTOS]
    scrub.load(scrub.extract(spark, warm, settings), settings, mode, master_key, output / "warmup")
    warmup = time.perf_counter() - started
    walls = []
    for repeat in range(repeats):
        started = time.perf_counter()
        records = output / f"spark{repeat}"
        scrub.load(scrub.extract(spark, objects, settings), settings, mode, master_key, records)
        walls.append(time.perf_counter() - started)
    result = _measure(pq.read_table(records), walls)
    result["session_startup_s"] = round(startup, 2)
    result["warmup_s"] = round(warmup, 2)
    result["worker_peak_rss_mb"] = worker_peak_rss_mb(spark)
    return result


def worker_peak_rss_mb(spark) -> list[float]:  # noqa: ANN001
    """Peak resident memory (MB) of each Spark Python worker process. The scrub job's RDD workers
    are reused across tasks, so asking them with more RDD tasks after the job reports the peak of
    the processes that did the job's work."""

    def peak(items):  # noqa: ANN001, ANN202
        import os
        import resource as res

        for _ in items:
            pass
        yield os.getpid(), res.getrusage(res.RUSAGE_SELF).ru_maxrss / 1024

    tasks = spark.sparkContext.defaultParallelism * 4
    rows = spark.sparkContext.parallelize(range(tasks), tasks).mapPartitions(peak).collect()
    return sorted(round(mb, 1) for mb in dict(rows).values())


def _lfw_faces(settings: Settings, objects: list[ObjectInfo], faces: int) -> list:
    """(photo, face, aligned crop, paste region) of the first ``faces`` photos with a face."""
    from encryptface.faces.alignment import Aligner
    from encryptface.faces.detection import FaceDetector
    from encryptface.imaging.codecs import decode_image

    detector, aligner = FaceDetector(settings.detection), Aligner(settings.alignment)
    found = []
    for info in objects:
        rgb, _ = decode_image(Path(info.uri).read_bytes(), settings.images)
        detected = detector.detect(rgb)
        if detected:
            aligned = aligner.align(rgb, detected[0])
            found.append((rgb, detected[0], aligned, aligner.paste_region(aligned, rgb.shape)))
        if len(found) == faces:
            break
    return found


def _per_item(work, items: list, repeat: int = 1) -> float:  # noqa: ANN001
    work(items[0])  # warm-up
    started = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            work(item)
    return round((time.perf_counter() - started) / (len(items) * repeat), 4)


def model_speed(settings: Settings, objects: list[ObjectInfo], faces: int) -> dict:
    """Seconds per face on ONE core, OpenVINO vs torch eager, for each model the modes run:
    the generator's autoencoder (and the whole encrypt protect), and the recognisers the cloak
    optimises through (torch replay of the OpenVINO graph vs OpenVINO compiled)."""
    import dataclasses

    import numpy as np
    import openvino as ov
    import torch

    from encryptface.crypto.keys import face_aad
    from encryptface.faces.recognition import load_recognizer
    from encryptface.modes import FaceContext, create_mode
    from encryptface.runtime import limit_threads

    limit_threads(1)
    items = _lfw_faces(settings, objects, faces)
    result: dict = {}
    for engine, backend, precision in (("openvino-int8", "openvino", "int8"),
                                       ("openvino", "openvino", "f32"), ("torch", "torch", "f32")):
        encrypt_settings = dataclasses.replace(settings.encrypt, generator="prior", backend=backend,
                                               precision=precision)
        mode = create_mode("encrypt", settings.replace(encrypt=encrypt_settings), threads=1)
        autoencoder = mode.generator.autoencoder
        result[f"autoencoder/{engine}"] = _per_item(
            lambda item, a=autoencoder: a.decode(a.encode(item[2].crop[None])), items)
        result[f"encrypt_protect/{engine}"] = _per_item(
            lambda item, m=mode: m.protect(item[0], FaceContext(item[1], item[2], item[3], bytes(32),
                                                                face_aad("bench", 0, "encrypt"))), items)
    result.update(stylegan_speed(settings, items))
    core = ov.Core()
    for name in ("facenet", "arcface", "mobilefacenet"):
        recognizer = load_recognizer(name, settings.recognition)
        size = recognizer.crop_size
        batch = torch.rand(1, 3, size, size)
        with torch.no_grad():
            network_input = recognizer.preprocess(batch)
            result[f"{name}/torch"] = _per_item(lambda x, r=recognizer: r.network(x), [network_input], 20)
        compiled = core.compile_model(recognizer.network.model, "CPU",  # type: ignore[attr-defined]
                                      {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
        batch_dim = compiled.inputs[0].get_partial_shape()[0]  # MobileFaceNet's tflite fixes 2
        copies = batch_dim.get_length() if batch_dim.is_static else 1
        array = np.repeat(network_input.numpy(), copies, axis=0)
        result[f"{name}/openvino"] = round(_per_item(lambda x, c=compiled: c(x), [array], 20) / copies, 4)

        def step(x: torch.Tensor, r=recognizer) -> None:  # noqa: ANN001
            x = x.clone().requires_grad_(True)
            r.embed_crops(x).sum().backward()

        result[f"{name}/torch_forward_backward"] = _per_item(step, [batch], 10)
    cloak = create_mode("cloak", settings, threads=1)
    result["cloak_protect/torch"] = _per_item(
        lambda item: cloak.protect(item[0], FaceContext(item[1], item[2], item[3], b"",
                                                        face_aad("bench", 0, "cloak"))),
        items[:max(2, faces // 4)])
    ratios = {f"{name}_{engine}_speedup": round(result[f"{name}/torch"] / result[f"{name}/{engine}"], 2)
              for name, engine in itertools.product(("autoencoder", "encrypt_protect", "facenet", "arcface",
                                                     "mobilefacenet"),
                                                    ("openvino", "openvino-int8"))
              if f"{name}/{engine}" in result}
    ratios["encrypt_stylegan_vs_one_1024_render"] = round(
        result["encrypt_protect/stylegan"] / result["stylegan_1024_render/openvino"], 2)
    ratios["encrypt_stylegan_vs_prior_int8"] = round(
        result["encrypt_protect/stylegan"] / result["encrypt_protect/openvino-int8"], 2)
    ratios["encrypt_stylegan_vs_fast"] = round(
        result["encrypt_protect/stylegan"] / result["encrypt_protect/stylegan-fast"], 2)
    return {"seconds_per_face_one_core": result, **ratios}


FAST_PRESET = Path(__file__).resolve().parents[1] / "conf" / "presets" / "fast.toml"


def with_preset(settings: Settings, preset: Path) -> Settings:
    """``settings`` with a preset file's values (same layout as conf/default.toml) over them."""
    import dataclasses
    import tomllib

    for section, values in tomllib.loads(preset.read_text()).items():
        settings = settings.replace(**{section: dataclasses.replace(getattr(settings, section), **values)})
    return settings


def stylegan_speed(settings: Settings, items: list) -> dict:
    """One core: a plain render of the shipped IR as the package ships it (1024 px, one style), and
    the whole stylegan encrypt protect of a face (encode, keyed person, 512 px render, re-detect,
    blend, seal) on the same faces, with the default settings and with the ``fast`` preset
    (``conf/presets/fast.toml`` over them)."""
    import dataclasses

    import numpy as np
    import openvino as ov

    from encryptface.crypto.keys import face_aad
    from encryptface.models.stylegan import STYLE_DIM, package_data_dir
    from encryptface.modes import FaceContext, create_mode

    encrypt_settings = dataclasses.replace(settings.encrypt, generator="stylegan")
    presets = {"stylegan": settings.replace(encrypt=encrypt_settings)}
    presets["stylegan-fast"] = with_preset(presets["stylegan"], FAST_PRESET)
    options = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"}
    synthesis = ov.Core().compile_model(str(package_data_dir() / "SynthesisNetwork.xml"), "CPU", options)
    modes = {name: create_mode("encrypt", current, threads=1) for name, current in presets.items()}
    network = modes["stylegan"].generator.network
    styles = [network.map(np.random.default_rng(i).standard_normal((1, STYLE_DIM)))
              for i in range(len(items))]
    # Each face its own key, as HKDF gives every face of an archive: one key for all would time one
    # synthetic person's pose fit (how often it needs a second render) for every face.
    keyed = [(item, hashlib.sha256(b"bench face %d" % index).digest()) for index, item in enumerate(items)]
    result = {"stylegan_1024_render/openvino": _per_item(lambda w: synthesis(w), styles)}
    for name, mode in modes.items():
        result[f"encrypt_protect/{name}"] = _per_item(
            lambda pair, m=mode: m.protect(pair[0][0], FaceContext(*pair[0][1:4], pair[1],
                                                                   face_aad("bench", 0, "encrypt"))), keyed)
    return result


def folder_vs_table(objects: list[ObjectInfo], mode: str, folder: Path, master: str,
                    repeats: int = 1) -> dict:
    """The whole scrub job (listing, scrub, records, publication, summary) on the same photos,
    once as a folder of files and once as a Parquet table of them (a binary image column, one file
    per task the folder job makes, written as the folder's), alternately in one warm Spark
    session; the median wall time of each and their ratio."""
    photos, table_in = folder / "photos", folder / "table"
    photos.mkdir()
    table_in.mkdir()
    for index, info in enumerate(objects):
        (photos / f"{index:06d}.jpg").symlink_to(info.uri)
    spark = spark_session(load_settings().spark, master)
    files = max(1, min(len(objects), spark.sparkContext.defaultParallelism))
    for part in range(files):
        share = objects[part::files]
        pq.write_table(pa.table({"id": [info.relative_path for info in share],
                                 "image": pa.array([Path(info.uri).read_bytes() for info in share],
                                                   pa.binary())}), table_in / f"part-{part}.parquet")
    password_file = folder / "password"
    password_file.write_text("benchmark\n")
    common = ["--mode", mode, "--password-file", str(password_file), "--master", master]
    jobs = {"folder": ["--input", str(photos)],
            "table": ["--input", str(table_in), "--image-column", "image", "--id-column", "id",
                      "--output-table", str(folder / "protected-table")]}
    walls: dict[str, list[float]] = {name: [] for name in jobs}
    for run in range(repeats + 1):  # the first run of each warms the workers up and is not timed
        for name, flags in jobs.items():
            started = time.perf_counter()
            if scrub.main([*flags, "--output", str(folder / f"out-{name}"), *common]):
                raise RuntimeError(f"the {name} scrub failed")
            if run:
                walls[name].append(time.perf_counter() - started)
    folder_s, table_s = (statistics.median(walls[name]) for name in jobs)
    return {"mode": mode, "photos": len(objects), "table_files": files, "master": master,
            "folder_s": round(folder_s, 2), "table_s": round(table_s, 2),
            "table_vs_folder": round(table_s / folder_s, 3),
            "runs_s": {name: [round(w, 2) for w in times] for name, times in walls.items()}}


def _measure(table: pa.Table, walls: list[float]) -> dict:
    """Counts of the (last) run's records and the MEDIAN wall time of the timed runs."""
    seconds = statistics.median(walls)
    rows = table.select(["status", "faces", "seconds"]).to_pylist()
    faces = sum(len(r["faces"]) for r in rows)
    return {"photos": len(rows), "faces": faces, "errors": sum(r["status"] == STATUS_ERROR for r in rows),
            "wall_s": round(seconds, 2), "faces_per_s": round(faces / seconds, 2),
            "wall_s_runs": [round(w, 2) for w in walls],
            "worker_s_per_face": round(sum(r["seconds"] for r in rows) / max(faces, 1), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", default=str(Path(__file__).resolve().parents[1].parent
                                             / "shared" / "data" / "lfw" / "train"))
    parser.add_argument("--limits", default="seal=2000,encrypt=200,cloak=40",
                        help="mode=photos: the first N LFW photos each mode is timed on")
    parser.add_argument("--masters", default="local[2],local[1]")
    parser.add_argument("--model-faces", type=int, default=20, help="faces for the per-model timings")
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed runs per engine and mode (all warm); the median wall time is reported")
    parser.add_argument("--quick", action="store_true", help="CI smoke: a few photos, local[2] only")
    parser.add_argument("--output", default="out/bench")
    parser.add_argument("--table-photos", type=int, default=500,
                        help="photos of the folder-vs-table row (seal, the first --masters)")
    parser.add_argument("--table-only", action="store_true", help="only the folder-vs-table row")
    args = parser.parse_args(argv)
    if args.quick:
        args.limits, args.masters, args.model_faces = "seal=12,encrypt=4,cloak=2", "local[2]", 2
        args.table_photos = 12
    settings = load_settings()
    # The benchmark's own throwaway password: the KDF cost is paid once per run either way.
    master_key = derive_master_key(Password(b"benchmark"), KdfParams.fresh(settings.kdf))
    lfw = list(list_objects(args.lfw, settings.storage))
    limits = {mode: int(n) for mode, n in (item.split("=") for item in args.limits.split(","))}
    for info in lfw[:max(limits.values())]:  # every engine reads the photos from a warm page cache
        Path(info.uri).read_bytes()
    masters = args.masters.split(",")
    report: dict = {"limits": limits, "masters": masters, "results": {}}
    Path(args.output).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.output) as tmp:
        report["folder_vs_table"] = folder_vs_table(lfw[:args.table_photos], "seal", Path(tmp),
                                                    masters[0], max(args.repeats, 3))
    print(format_folder_vs_table(report["folder_vs_table"]))
    if args.table_only:
        path = Path(args.output) / "folder_vs_table.json"
        path.write_text(json.dumps(report["folder_vs_table"], indent=2))
        print(f"written: {path}")
        return 0
    for master in masters:
        for mode, limit in limits.items():
            with tempfile.TemporaryDirectory(dir=args.output) as tmp:
                key = master_key if is_reversible(mode) else None
                report["results"].setdefault(mode, {})[master] = spark_job(
                    lfw[:limit], settings, mode, key, Path(tmp), master, args.repeats)
        from pyspark.sql import SparkSession

        SparkSession.builder.getOrCreate().stop()  # the next master needs a new context
    for mode, limit in limits.items():
        with tempfile.TemporaryDirectory(dir=args.output) as tmp:
            plain = plain_process(lfw[:limit], settings, mode,
                                  master_key if is_reversible(mode) else None, Path(tmp), args.repeats)
        with tempfile.TemporaryDirectory(dir=args.output) as tmp:
            two = plain_processes(lfw[:limit], settings, mode,
                                  master_key if is_reversible(mode) else None, Path(tmp),
                                  repeats=args.repeats)
        report["results"][mode]["plain process"] = plain
        report["results"][mode]["2 plain procs"] = two
        for row in report["results"][mode].values():
            row["vs_plain"] = round(plain["wall_s"] / row["wall_s"], 2)
            row["vs_2_procs"] = round(two["wall_s"] / row["wall_s"], 2)
    report["models"] = model_speed(settings, lfw, args.model_faces)
    # detection alone, before (one pass) and now, per photo and per megapixel (docs/detection.md)
    report["detection"] = detection_cost(settings, photos=4 if args.quick else 20)
    print(format_table(report))
    print(cost_table(report["detection"]))
    path = Path(args.output) / "bench.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"written: {path}")
    return 0


def format_folder_vs_table(row: dict) -> str:
    """The folder-vs-table row as one line."""
    return (f"folder vs table ({row['mode']}, {row['photos']} photos, {row['table_files']} table "
            f"files, {row['master']}, median of {len(row['runs_s']['folder'])}): folder "
            f"{row['folder_s']}s, table {row['table_s']}s, table/folder {row['table_vs_folder']}x")


def format_table(report: dict) -> str:
    """The bench as text: one line per mode and engine, then per-model timings and ratios."""
    lines = [f"{'mode':<8} {'engine':<14} {'photos':>6} {'faces':>6} {'wall s':>8} {'faces/s':>8} "
             f"{'f/s/core':>8} {'vs plain':>8} {'vs 2 procs':>10} {'worker peak RSS MB':>20}"]
    for mode, engines in report["results"].items():
        for engine, row in engines.items():
            cores = int(engine[6:-1]) if engine.startswith("local[") else 2 if engine.startswith("2 ") else 1
            rss = row.get("worker_peak_rss_mb", "-")
            lines.append(f"{mode:<8} {engine:<14} {row['photos']:>6} {row['faces']:>6} {row['wall_s']:>8} "
                         f"{row['faces_per_s']:>8} {row['faces_per_s'] / cores:>8.2f} {row['vs_plain']:>8} "
                         f"{row['vs_2_procs']:>10} "
                         f"{str(rss):>20}")
    startup = [row["session_startup_s"] for engines in report["results"].values()
               for row in engines.values() if "session_startup_s" in row]
    lines.append(f"(Spark session start-up, not in wall s: {startup[0] if startup else 'n/a'}s; plain "
                 "process: one Python process, native libraries on all cores; 2 plain procs: one "
                 "process per core, one native thread each; all timed warm, start-up in warmup_s)")
    models = report["models"]
    lines.append("seconds per face on ONE core: " + ", ".join(
        f"{k} {v}" for k, v in models["seconds_per_face_one_core"].items()))
    lines.append("OpenVINO speed-up over torch eager: " + ", ".join(
        f"{k.removesuffix('_speedup')} {v}x" for k, v in models.items() if k.endswith("speedup")))
    if "folder_vs_table" in report:
        lines.append(format_folder_vs_table(report["folder_vs_table"]))
    lines.append("stylegan encrypt, side by side: " + ", ".join(
        f"{k.removeprefix('encrypt_stylegan_')} {v}x" for k, v in models.items()
        if k.startswith("encrypt_stylegan_")))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
