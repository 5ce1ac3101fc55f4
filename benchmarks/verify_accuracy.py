"""Two-factor verification measured: genuine, impostor and wrong-password probes, 1:1 and 1:N.

    python -m benchmarks.verify_accuracy [--people 0] [--wrong 1000] [--output out/verify-accuracy]

People of the validation side of the identity split (no threshold saw them; the calibration used
the tuning side) are split in two by name: the *enrolled* half has its first photo scrubbed into an
archive (seal mode with sealed embeddings: the 1:N path at scale), the other half never enters it.
Then, with the library code the Spark job runs (:func:`encryptface.pipeline.verify.verify_row`):

- genuine probes: the second photo of every enrolled person with one, 1:N over the whole archive
  at ``verify.far`` (accepted when their own record matches; any other record matching is a false
  match) and 1:1 against their own photo at ``verify.far_one_to_one``;
- impostor probes: the first photo of every person not enrolled, right password, 1:N;
- wrong passwords: ``--wrong`` trials, each a fresh wrong password with a genuine probe, 1:N and 1:1,
  spread over three archives: the seal one, and small ones of the default ``encrypt`` (prior,
  restored and embedded: no sealed embedding) and of ``encrypt`` with the stylegan generator.

Prints false matches per probe, the genuine accept rate, the wrong-password accepts and the time per
1:N probe; extrapolates false matches per probe to 100,000 distinct faces from the calibration's FAR
measured on millions of validation impostor pairs (with its 95 % upper bound).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

from encryptface.config import Settings, load_settings
from encryptface.crypto.keys import KdfParams, KeyRing, Password, derive_master_key
from encryptface.faces.matching import shipped_calibration
from encryptface.imaging.codecs import ImageError
from encryptface.pipeline.scrubber import Scrubber
from encryptface.pipeline.verify import Verifier, probe_embedding, verify_row
from encryptface.training.data import identity_images, split_identities

log = logging.getLogger("benchmarks.verify_accuracy")
PASSWORD = b"verify-accuracy benchmark password"
SCALE = 100_000


def enrolled_half(name: str) -> bool:
    """Whether a person enters the archive (a salted hash of the name: half of them)."""
    return hashlib.sha256(f"verify-accuracy/{name}".encode()).digest()[0] < 128


def scrub_archive(settings: Settings, mode: str, photos: list[Path], key: object) -> list[dict]:
    """One record per photo (rows without a face dropped)."""
    scrubber = Scrubber(settings, mode)
    rows = []
    for index, photo in enumerate(photos):
        row = scrubber.scrub(str(photo), f"{photo.parent.name}/{photo.name}", photo.read_bytes(), key)
        if row["faces"]:
            rows.append(row)
        if (index + 1) % 100 == 0:
            log.info("%s: scrubbed %d / %d photos", mode, index + 1, len(photos))
    return rows


def one_to_n(rows: list[dict], probe: object, keys: KeyRing, verifier: Verifier) -> list[str]:
    """The person folders of every record matching the probe and the keys."""
    return [m.relative_path.split("/")[0] for row in rows for m in verify_row(row, probe, keys, verifier)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=0, help="validation people (0: all)")
    parser.add_argument("--wrong", type=int, default=1000, help="wrong-password trials")
    parser.add_argument("--small", type=int, default=40, help="people in the prior / stylegan archives")
    parser.add_argument("--output", default="out/verify-accuracy")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings(overrides=["kdf.n_log2=14"])
    data, names = split_identities(settings, "validation")
    names = names[:args.people] if args.people else names
    photos = {name: identity_images(data, [name]) for name in names}
    enrolled = [n for n in names if enrolled_half(n)]
    strangers = [n for n in names if not enrolled_half(n)]
    params = KdfParams(settings.kdf.n_log2, settings.kdf.r, settings.kdf.p, b"verify-accuracy-salt")
    master_key = derive_master_key(Password(PASSWORD), params)
    right = KeyRing(Password(PASSWORD))
    sealed = settings.replace(verify=dataclasses.replace(settings.verify, seal_embeddings=True))
    archive = scrub_archive(sealed, "seal", [photos[n][0] for n in enrolled], master_key)
    with_second = [n for n in enrolled if len(photos[n]) >= 2]
    small = with_second[:args.small]
    archives = {"seal+sealed-embeddings": archive}
    for generator in ("prior", "stylegan"):
        chosen = settings.replace(encrypt=dataclasses.replace(settings.encrypt, generator=generator))
        archives[f"encrypt-{generator}"] = scrub_archive(chosen, "encrypt", [photos[n][0] for n in small],
                                                         master_key)
    wide = Verifier.from_settings(settings, settings.verify.far)
    narrow = Verifier.from_settings(settings, settings.verify.far_one_to_one)
    probes = {}
    for name in with_second + strangers:
        photo = photos[name][1] if name in with_second else photos[name][0]
        try:
            probes[name] = probe_embedding(photo.read_bytes(), settings, wide.detector, wide.matcher)
        except ImageError:
            continue
    by_person = {row["relative_path"].split("/")[0]: row for row in archive}
    report: dict = {"archive_faces": sum(len(r["faces"]) for r in archive), "far": settings.verify.far,
                    "far_one_to_one": settings.verify.far_one_to_one,
                    "score": wide.matcher.score, "threshold": wide.matcher.threshold,
                    "threshold_one_to_one": narrow.matcher.threshold}

    genuine = [n for n in with_second if n in probes and n in by_person]
    accepted = false_genuine = accepted_one = 0
    started = time.perf_counter()
    for name in genuine:
        found = one_to_n(archive, probes[name], right, wide)
        accepted += name in found
        false_genuine += sum(f != name for f in found)
        accepted_one += bool(verify_row(by_person[name], probes[name], right, narrow))
    per_probe = (time.perf_counter() - started) / max(1, len(genuine))
    report["genuine"] = {"probes": len(genuine), "one_to_n_accept_rate": accepted / len(genuine),
                         "one_to_n_false_matches_per_probe": false_genuine / len(genuine),
                         "one_to_one_accept_rate": accepted_one / len(genuine),
                         "one_to_n_seconds_per_probe_in_process": round(per_probe, 3)}
    impostors = [n for n in strangers if n in probes]
    false_impostor = false_one = 0
    for index, name in enumerate(impostors):
        false_impostor += len(one_to_n(archive, probes[name], right, wide))
        other = archive[index % len(archive)]
        false_one += bool(verify_row(other, probes[name], right, narrow))
    comparisons = len(impostors) * report["archive_faces"]
    report["impostors"] = {"probes": len(impostors), "comparisons": comparisons,
                           "one_to_n_false_matches": false_impostor,
                           "one_to_n_false_matches_per_probe": false_impostor / max(1, len(impostors)),
                           "one_to_one_false_accepts": false_one}
    measured = shipped_calibration().measured[settings.verify.score][f"{settings.verify.far:g}"]
    report["extrapolated_to_100000_faces"] = {
        "false_matches_per_probe": measured["crosscheck_far"] * SCALE,
        "upper_95": measured["crosscheck_far_upper_95"] * SCALE,
        "from": "calibration.json: FAR at verify.far on the held-out half of the tuning people"}

    wrong_accepts, trials, per_archive = 0, 0, {}
    kinds = list(archives)
    for trial in range(args.wrong):
        kind = kinds[trial % len(kinds)]
        rows = archives[kind]
        people = [r["relative_path"].split("/")[0] for r in rows]
        probed = [n for n in people if n in probes]
        name = probed[(trial // len(kinds)) % len(probed)]
        wrong = KeyRing(Password(b"wrong password %d" % trial))
        found = one_to_n(rows, probes[name], wrong, wide)
        found += ["1:1"] * len(verify_row(rows[people.index(name)], probes[name], wrong, narrow))
        wrong_accepts += len(found)
        trials += 1
        per_archive[kind] = per_archive.get(kind, 0) + 1
        if (trial + 1) % 100 == 0:
            log.info("wrong-password trials: %d, accepts %d", trial + 1, wrong_accepts)
    right_found = {kind: sum(bool(verify_row(row, probes[name], right, narrow))
                             for row in rows if (name := row["relative_path"].split("/")[0]) in probes)
                   for kind, rows in archives.items()}
    report["wrong_password"] = {"trials": trials, "per_archive": per_archive, "accepts": wrong_accepts,
                                "archives_faces": {k: sum(len(r["faces"]) for r in v)
                                                   for k, v in archives.items()},
                                "right_password_own_record_found_at_far_one_to_one": right_found}
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
