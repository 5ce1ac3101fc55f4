"""The evaluation report: console table and HTML page from aggregated metrics."""

from test_aggregate import _face

from encryptface.evaluation.aggregate import aggregate
from encryptface.evaluation.report import console_table, gallery_head, summary_table, write_report


def _metrics():
    faces = [_face("a", [0.0], [0.1], [5.0], restored=[0.0]), _face("b", [1.0], [1.1], [1.05]),
             _face("c", [2.0], [2.2], [9.0]), _face("d", [3.0], None, [8.0])]
    return aggregate(faces, fars=(0.1, 0.01))


def test_summary_table_reports_the_measured_protection_rate():
    head, rows = summary_table([{"settings": {"cloak.steps": 4}, "metrics": _metrics()}])
    assert len(rows) == 1 and len(rows[0]) == len(head)
    cells = dict(zip(head, rows[0], strict=True))
    assert cells["PSR dlib"] == "0.667"  # a and c moved past the threshold, b did not
    assert cells["settings"] == "cloak.steps=4" and cells["restored dlib"] == "1.000"
    table = console_table(head, rows).splitlines()
    assert "PSR dlib" in table[0] and "0.667" in table[-1]


def test_report_page_holds_tables_histogram_and_gallery(tmp_path):
    thumb = b"\xff\xd8fake-jpeg"
    path = tmp_path / "report.html"
    write_report(path, "test <run>", [{"settings": {}, "metrics": _metrics()}], [[thumb, thumb, thumb]],
                 gallery_head(reversible=False))
    page = path.read_text()
    assert "<title>test &lt;run&gt;</title>" in page             # the title is escaped
    assert page.count("data:image/jpeg;base64,") == 3 + 1       # gallery cells + dlib's histogram
    assert "change x10" in page and "0.667" in page


def test_a_recogniser_without_impostors_is_reported_as_missing(tmp_path):
    metrics = aggregate([_face("", [0.0], None, [1.0])])
    path = tmp_path / "report.html"
    write_report(path, "archive", [{"settings": {}, "metrics": metrics}], [], gallery_head(True))
    assert "no thresholds" in path.read_text()
