"""xlsx exports: statistics tables and any filtered queue, streamed (memory stays flat).

openpyxl's write-only mode writes each row to a temporary file as it comes; the queue is read
in keyset pages of ``CHUNK`` appeals (``pk < last``), never with OFFSET or a whole result in
memory. Headers are Chinese (the language staff file reports in), numbers are numbers: counts
with the integer format, rates as fractions with the percent format (so Excel sums and sorts
them), working days with one decimal.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from minsheng.appeals import selectors as appeal_selectors
from minsheng.appeals.choices import AppealType, Channel, Rating, Status
from minsheng.core.masking import mask_phone
from minsheng.org.models import User

from . import kpi

CHUNK = 2000
INTEGER = "#,##0"
PERCENT = "0.00%"
DAYS = "0.0"
DATETIME = "yyyy-mm-dd hh:mm"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Chinese headers of the KPI columns (kpi.KPI_COLUMNS order).
KPI_HEADERS = {
    "received": "受理量",
    "closed": "办结量",
    "in_progress": "正在办理",
    "completion_rate": "办结率",
    "on_time_rate": "按时办结率",
    "response_rate": "响应率",
    "satisfaction_rate": "满意率",
    "resolution_rate": "解决率",
    "return_rate": "退单率",
    "reopen_rate": "重办率",
    "average_handling_days": "平均办理时长（工作日）",
}
FORMATS = {"count": INTEGER, "percent": PERCENT, "days": DAYS}


@dataclass
class Column:
    header: str
    number_format: str | None = None


def kpi_columns() -> list[Column]:
    return [Column(KPI_HEADERS[name], FORMATS[kind]) for name, _l, kind, _s in kpi.KPI_COLUMNS]


def kpi_values(counters: kpi.Counters) -> list[Any]:
    """The KPI cells of a row: counts as ints, rates as fractions (0.9922 → 99.22 %)."""
    values: list[Any] = []
    for name, _label, kind, _sample in kpi.KPI_COLUMNS:
        value = getattr(counters, name)
        if kind == "percent" and value is not None:
            value = value / Decimal(100)
        values.append(None if value is None else (float(value) if kind != "count" else value))
    return values


def _cell(sheet: WriteOnlyWorksheet, value: Any, number_format: str | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if number_format and value is not None:
        cell.number_format = number_format
    return cell


def write_sheet(
    workbook: Workbook, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]
) -> None:
    sheet = workbook.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([_cell(sheet, v, c.number_format) for v, c in zip(row, columns, strict=True)])


def new_workbook() -> Workbook:
    return Workbook(write_only=True)


def save(workbook: Workbook) -> IO[bytes]:
    """The finished file, spooled (in memory while small, on disk when large)."""
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned
    workbook.save(out)
    out.seek(0)
    return out


def table_workbook(
    title: str, first_headers: Sequence[str], rows: Iterable[tuple[Sequence[Any], kpi.Counters]]
) -> Workbook:
    """One statistics table: leading label columns, then every KPI."""
    workbook = new_workbook()
    columns = [Column(h) for h in first_headers] + kpi_columns()
    write_sheet(
        workbook,
        title,
        columns,
        ([*labels, *kpi_values(counters)] for labels, counters in rows),
    )
    return workbook


# ---------------------------------------------------------------- the queue

QUEUE_COLUMNS = [
    Column("查询码"),
    Column("受理时间", DATETIME),
    Column("渠道"),
    Column("类型"),
    Column("分类"),
    Column("地点"),
    Column("承办单位"),
    Column("状态"),
    Column("办理时限", DATETIME),
    Column("办结时间", DATETIME),
    Column("按时办结"),
    Column("评价"),
    Column("退单次数", INTEGER),
    Column("重办次数", INTEGER),
    Column("联系电话"),
    Column("标题"),
]
_LABELS: dict[str, str] = {
    **{c.value: c.label for c in Channel},
    **{c.value: c.label for c in AppealType},
    **{c.value: c.label for c in Status},
    **{c.value: c.label for c in Rating},
}


def _local(value: Any) -> Any:
    # Excel has no time zones: the city's wall-clock time, as staff read it on the pages.
    return None if value is None else timezone.localtime(value).replace(tzinfo=None)


def queue_rows(user: User, filters: appeal_selectors.QueueFilter) -> Iterator[list[Any]]:
    """Every appeal of the console's queue, newest first, ``CHUNK`` at a time.

    The console's own selector pages the queue by keyset (its cursor), so the export holds one
    chunk at a time and shows exactly what the queue shows, in the same scope.
    """
    cursor: str | None = None
    while True:
        page = appeal_selectors.queue(user, filters, cursor=cursor, limit=CHUNK)
        for a in page.items:
            yield [
                a.tracking_code,
                _local(a.created_at),
                str(_LABELS.get(a.channel, a.channel)),
                str(_LABELS.get(a.appeal_type, a.appeal_type)),
                a.category.name if a.category else "",
                a.territory.name if a.territory else "",
                a.lead_unit.name if a.lead_unit else "",
                str(_LABELS.get(a.status, a.status)),
                _local(a.due_at),
                _local(a.closed_at),
                {True: "是", False: "否"}.get(a.closed_on_time, "") if a.closed_at else "",
                str(_LABELS.get(a.rating, "")) if a.rating else "",
                a.return_count,
                a.reopen_count,
                mask_phone(a.citizen_phone),  # never unmasked in a file that travels
                a.title,
            ]
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def queue_workbook(user: User, filters: appeal_selectors.QueueFilter) -> Workbook:
    """The filtered queue exactly as the console shows it (same selector, same scope)."""
    workbook = new_workbook()
    write_sheet(workbook, "诉求清单", QUEUE_COLUMNS, queue_rows(user, filters))
    return workbook
