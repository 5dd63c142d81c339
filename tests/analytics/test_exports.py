"""xlsx and docx files open with openpyxl / python-docx and hold the expected figures."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from docx import Document
from openpyxl import load_workbook
from tests.analytics.factories import build_march

from minsheng.analytics import kpi
from minsheng.analytics.report import build_report
from minsheng.analytics.rollups import refresh_rollups

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


def test_reference_rate_in_a_report_sentence():
    assert kpi.Counters(received=32_266, closed=32_013).completion_rate == Decimal("99.22")
