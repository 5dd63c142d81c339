"""xlsx and docx files open with openpyxl / python-docx and hold the expected figures."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from docx import Document
from openpyxl import load_workbook
from tests.analytics.factories import build_march

from minsheng.analytics import exports, kpi
from minsheng.analytics.report import build_report
from minsheng.analytics.rollups import refresh_rollups
from minsheng.appeals import selectors as appeal_selectors

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def march(world):
    built = build_march(world)
    refresh_rollups()
    return built


def _sheet(response):
    content = b"".join(response.streaming_content)
    workbook = load_workbook(io.BytesIO(content))
    return workbook.worksheets[0]


def test_unit_table_exports_with_chinese_headers_and_number_formats(client, world, march):
    client.force_login(world["center_admin"])
    # when
    response = client.get("/console/stats/export/units.xlsx", MARCH)
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = _sheet(response)
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("承办单位", "受理量", "办结量", "正在办理", "办结率")
    town = next(r for r in rows if r[0] == "和兴镇")
    assert town[1:4] == (4, 2, 2)
    assert town[4] == pytest.approx(0.5)
    cells = {
        c.column_letter: c for c in next(r for r in sheet.iter_rows() if r[0].value == "和兴镇")
    }
    assert cells["B"].number_format == "#,##0"
    assert cells["E"].number_format == "0.00%"
    center = next(r for r in rows if r[0] == "中心直接办理")
    assert center[1] == 2  # e h


def test_summary_export_holds_the_rates(client, world, march):
    client.force_login(world["center_admin"])
    sheet = _sheet(client.get("/console/stats/export/summary.xlsx", MARCH))
    row = list(sheet.iter_rows(values_only=True))[1]
    assert row[1:4] == (6, 3, 3)
    assert row[4] == pytest.approx(0.5)  # 50.00 %
    assert row[5] == pytest.approx(0.6667)  # 66.67 %


def test_queue_export_uses_the_queue_filters_and_masks_phones(client, world, march):
    client.force_login(world["center_admin"])
    # when: the queue's own parameters
    response = client.get(
        "/console/stats/export/queue.xlsx",
        {"received_from": "2026-03-01", "received_to": "2026-03-31", "status": "closed"},
    )
    # then: a b e, newest first
    rows = list(_sheet(response).iter_rows(values_only=True))
    assert rows[0][0] == "查询码"
    assert [r[0] for r in rows[1:]] == [march.appeals[k].tracking_code for k in "eba"]
    assert all("****" in r[14] for r in rows[1:])


def test_queue_export_is_scoped(client, world, march):
    client.force_login(world["other_handler"])
    response = client.get("/console/stats/export/queue.xlsx")
    assert list(_sheet(response).iter_rows(values_only=True))[1:] == []


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/console/stats/export/queue.xlsx", {"received_from": "2026-13-01"}),
        ("/console/stats/export/queue.xlsx", {"unit": "999999"}),
        (
            "/console/stats/export/queue.xlsx",
            {"received_from": "2026-03-31", "received_to": "2026-03-01"},
        ),
        ("/console/stats/export/units.xlsx", {"from": "2026-03-31", "to": "2026-03-01"}),
        ("/console/stats/export/units.xlsx", {"unit": "999999"}),
        ("/console/stats/export/nothing.xlsx", {}),
    ],
)
def test_bad_export_requests_are_4xx(client, world, url, params):
    client.force_login(world["center_admin"])
    response = client.get(url, params, HTTP_ACCEPT="application/json")
    assert response.status_code in (404, 422)
    assert response.json()["code"]


def test_report_docx_writes_the_reference_sentence_and_tables(world, march, tmp_path):
    # when
    path = tmp_path / "report.docx"
    totals = build_report(2026, 1, output=str(path))
    # then
    assert totals.received == 6
    document = Document(str(path))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "本季度共受理6件，已办结3件，办结率50.00%，正在办理3件。" in text
    assert "按时办结率66.67%" in text
    tables = {t.rows[0].cells[0].text: t for t in document.tables}
    assert len(document.tables) == 4  # channel, category, township, unit
    unit_table = document.tables[3]
    town = next(r for r in unit_table.rows if r.cells[0].text == "和兴镇")
    assert [c.text for c in town.cells] == ["和兴镇", "4", "2", "50.00%", "50.00%", "100.00%"]
    assert tables


def test_report_command_writes_a_file_with_a_progress_bar(world, march, tmp_path, capsys):
    path = tmp_path / "r.docx"
    call_command("report", "--year", "2026", "--output", str(path))
    captured = capsys.readouterr()
    assert "[##############################] 6/6" in captured.err
    paragraphs = [p.text for p in Document(str(path)).paragraphs]
    assert "全年共受理6件，已办结3件，办结率50.00%，正在办理3件。" in paragraphs


def test_report_over_http_for_city_roles_only(client, world, march):
    client.force_login(world["center_admin"])
    ok = client.get("/console/stats/report.docx", {"year": "2026"})
    assert ok.status_code == 200
    document = Document(io.BytesIO(b"".join(ok.streaming_content)))
    assert any("全年共受理6件" in p.text for p in document.paragraphs)
    client.force_login(world["town_leader"])
    assert client.get("/console/stats/report.docx", {"year": "2026"}).status_code == 403
    client.force_login(world["center_admin"])
    assert client.get("/console/stats/report.docx", {"year": "x"}).status_code == 422


def wall(*parts: int) -> datetime:
    """A wall-clock time, as the exports write them (Excel has no time zones)."""
    return datetime(*parts)  # noqa: DTZ001


def test_streamed_sheet_keeps_types_formats_and_awkward_text(tmp_path):
    columns = [
        exports.Column("文本"),
        exports.Column("时间", exports.DATETIME),
        exports.Column("件数", exports.INTEGER),
        exports.Column("比率", exports.PERCENT),
        exports.Column("天数", exports.DAYS),
        exports.Column("日期"),
    ]
    rows = [
        ["a < b & c > d", wall(2026, 3, 2, 9, 30), 1234, 0.5, 2.5, date(2026, 3, 2)],
        ["", None, None, None, None, None],
        ["  两端空格 ", None, 0, None, None, None],
        ["bell\x07 and\x00 nul", wall(2026, 12, 31, 23, 59), None, 1, Decimal("1.5"), None],
    ]
    path = tmp_path / "sheet.xlsx"
    # when
    with path.open("wb") as out:
        count = exports.write_xlsx(out, "清单 <1>", columns, rows)
    # then
    assert count == 4
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    assert sheet.title == "清单 <1>"
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("文本", "时间", "件数", "比率", "天数", "日期")
    assert values[1] == (
        "a < b & c > d",
        wall(2026, 3, 2, 9, 30),
        1234,
        0.5,
        2.5,
        wall(2026, 3, 2),
    )
    assert values[2] == (None,) * 6
    assert values[3] == ("  两端空格 ", None, 0, None, None, None)
    assert values[4] == ("bell and nul", wall(2026, 12, 31, 23, 59), None, 1, 1.5, None)
    header, first = sheet[1], sheet[2]
    assert all(cell.font.b for cell in header)
    assert [c.number_format for c in first[1:5]] == [
        exports.DATETIME,
        exports.INTEGER,
        exports.PERCENT,
        exports.DAYS,
    ]


def test_text_like_markup_formulas_or_links_stays_plain_text(tmp_path):
    # XlsxWriter would copy "<r>…</r>" into the sheet unescaped; "=" and "http" must not turn
    # a citizen's title into a formula or a link.
    texts = [
        "<r></is></c></row></sheetData></r>",
        "<r>two  spaces\x07 and a bell  </r>",
        '=HYPERLINK("http://evil.example","x")',
        "https://example.com/a?b=1",
        "+1-2",
    ]
    path = tmp_path / "text.xlsx"
    # when
    with path.open("wb") as out:
        count = exports.write_xlsx(out, "t", [exports.Column("标题")], [[t] for t in texts])
    # then: a valid file, every text as it was (the bell dropped), as a string cell
    assert count == len(texts)
    with zipfile.ZipFile(path) as package:
        assert "xl/sharedStrings.xml" not in package.namelist()  # rows streamed, inline
    sheet = load_workbook(path).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == [
        texts[0],
        "<r>two  spaces and a bell  </r>",
        *texts[2:],
    ]
    assert {c.data_type for c in cells} == {"s"}
    assert not any(c.hyperlink for c in cells)


def test_a_sheet_holds_at_most_max_rows(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "MAX_ROWS", 3)  # instead of Excel's 1,048,575
    columns = [exports.Column("n", exports.INTEGER)]
    with (tmp_path / "ok.xlsx").open("wb") as out:
        assert exports.write_xlsx(out, "t", columns, [[n] for n in range(3)]) == 3
    with (tmp_path / "too.xlsx").open("wb") as out, pytest.raises(exports.TooManyRows):
        exports.write_xlsx(out, "t", columns, [[n] for n in range(4)])


def test_reference_rate_in_a_report_sentence():
    assert kpi.Counters(received=32_266, closed=32_013).completion_rate == Decimal("99.22")


@pytest.mark.parametrize("sort", ["newest", "oldest", "due"])
def test_queue_values_read_the_queue_in_its_order_across_chunks(world, march, sort):
    user = world["center_admin"]
    filters = appeal_selectors.QueueFilter(sort=sort)
    paged, cursor = [], None
    while True:
        page = appeal_selectors.queue(user, filters, cursor=cursor, limit=3)
        paged += [a.tracking_code for a in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # when: chunks of two, so the keyset crosses several boundaries (and, sorted by deadline,
    # reaches the appeals without one, which come last)
    values = [
        code
        for (code,) in appeal_selectors.queue_values(user, filters, ("tracking_code",), chunk=2)
    ]
    # then
    assert values == paged
    assert len(values) == 8
