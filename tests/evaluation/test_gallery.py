"""The HTML gallery of a scrub output: a row per face, a column per restore, every failed photo listed."""

import re

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import PHOTOS

from encryptface.archive.output import output_key
from encryptface.archive.schema import to_batch
from encryptface.archive.storage import write_bytes
from encryptface.evaluation.gallery import write_gallery
from encryptface.imaging.codecs import encode_image
from encryptface.pipeline.restorer import Restorer
from encryptface.pipeline.scrubber import Scrubber


def test_gallery_shows_each_face_with_its_restore_and_lists_failed_photos(tmp_path, settings,
                                                                        master_key, keys):
    scrubber = Scrubber(settings, "seal")
    rows = [scrubber.scrub(str(PHOTOS / name), name, (PHOTOS / name).read_bytes(), master_key)
            for name in ("obama.jpg", "two_people.jpg")]
    broken = tmp_path / "broken.jpg"
    rows.append(scrubber.scrub(str(broken), "broken.jpg", b"\xff\xd8 not a jpeg", master_key))
    output = tmp_path / "scrubbed"
    output.mkdir()
    pq.write_table(pa.Table.from_batches([to_batch(rows)]), output / "part-0.parquet")
    restored = tmp_path / "restored"
    restorer = Restorer(settings)
    for row in rows[:1]:  # only the first photo restored: the second row's cell says n/a
        photo, _ = restorer.restore(row, keys)
        write_bytes(output_key(str(restored), row["relative_path"], "png"), encode_image(photo, "png"),
                    settings.storage)
    page = write_gallery(str(output), tmp_path / "gallery.html", settings, str(restored)).read_text()
    # obama.jpg: the face, and an uncertain detection on the tie (sealed, so it has a row too)
    restored_faces, other_faces = len(rows[0]["faces"]), len(rows[1]["faces"])
    assert restored_faces >= 1 and other_faces == 2
    assert page.count("<tr><td><code>") == restored_faces + other_faces + 1  # and the broken photo
    images = len(re.findall(r"<img src=\"data:image/jpeg;base64,", page))
    assert images == 3 * restored_faces + 2 * other_faces
    assert page.count("<em>n/a</em>") == other_faces           # no restore for two_people.jpg
    assert "broken.jpg" in page and "error" in page and "<th>restored</th>" in page
