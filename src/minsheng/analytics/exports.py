"""xlsx exports: statistics tables and any filtered queue, streamed (memory stays flat).

Every file is written by XlsxWriter in ``constant_memory`` mode: each row goes to a temporary
file as soon as the next one starts, so a million-row queue holds one row (and one database
chunk of ``CHUNK`` appeals) in memory. The queue is read in keyset chunks, never with OFFSET or
a whole result in memory. Headers are Chinese (the language staff file reports in), numbers are
numbers: counts with the integer format, rates as fractions with the percent format (so Excel
sums and sorts them), working days with one decimal.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from django.utils import timezone, translation
from xlsxwriter.worksheet import Worksheet

from minsheng.appeals import selectors as appeal_selectors
from minsheng.appeals.choices import AppealType, Channel, Rating, Status
from minsheng.appeals.models import Category
from minsheng.core.masking import mask_phone
from minsheng.org.models import OrgUnit, User

from . import kpi

CHUNK = 2000
INTEGER = "#,##0"
PERCENT = "0.00%"
DAYS = "0.0"
DATETIME = "yyyy-mm-dd hh:mm"
DATE = "yyyy-mm-dd"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A sheet's last row is 1,048,576; the first holds the headers.
MAX_ROWS = 1_048_575

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


class TooManyRows(Exception):
    """More rows than one sheet holds (``MAX_ROWS``): the file would silently lose the rest."""


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


# Control characters XML cannot carry (one pasted into a title) are dropped: XlsxWriter would
# write them as "_x0007_" escapes, which Excel decodes but other readers show as they are.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _workbook(out: IO[bytes], tmpdir: Path | None) -> xlsxwriter.Workbook:
    return xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "in_memory": False,
            "tmpdir": str(tmpdir) if tmpdir else None,
            # Text stays text: a title like "=1+1" or a web address is never a formula or link.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )


def _write_text(sheet: Worksheet, row: int, col: int, value: str) -> None:
    if _NOT_XML.search(value):
        value = _NOT_XML.sub("", value)
    if value.startswith("<r>") and value.endswith("</r>"):
        # In constant_memory mode XlsxWriter copies such a string into the sheet unescaped (it
        # takes it for its own rich-string XML): a title like that would break the whole file.
        # Written as a rich string of plain pieces, it is escaped like any other text.
        sheet.write_rich_string(row, col, value[:1], value[1:2], value[2:])
    else:
        sheet.write_string(row, col, value)


def write_xlsx(
    out: IO[bytes],
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    tmpdir: Path | None = None,
) -> int:
    """A one-sheet workbook of ``rows`` under bold headers, streamed into ``out``; the row count.

    Datetimes must be naive wall-clock times (Excel has no time zones); numbers get their
    column's format, a date or time in a column without one still reads as a date or time;
    empty strings and None write no cell. ``tmpdir``: where XlsxWriter spools the sheet (the
    system's temporary directory by default).
    """
    book = _workbook(out, tmpdir)
    sheet = book.add_worksheet(title[:31])
    formats = {f: book.add_format({"num_format": f}) for f in (INTEGER, PERCENT, DAYS, DATE)}
    formats[DATETIME] = book.add_format({"num_format": DATETIME})
    bold = book.add_format({"bold": True})
    for index, column in enumerate(columns):
        sheet.write_string(0, index, column.header, bold)
    shape = [
        (index, formats.get(c.number_format) if c.number_format else None)
        for index, c in enumerate(columns)
    ]
    write_text, write_number = _write_text, sheet.write_number
    write_datetime, write_boolean = sheet.write_datetime, sheet.write_boolean
    as_datetime, as_date = formats[DATETIME], formats[DATE]
    count = 0
    for count, row in enumerate(rows, start=1):  # noqa: B007 - the count is returned
        if count > MAX_ROWS:  # not closed: nothing is written, the spooled rows go with it
            raise TooManyRows(count)
        # The hot loop of a large export: plain type checks, the specific writer per type.
        for (index, number_format), value in zip(shape, row, strict=True):
            kind = type(value)
            if kind is str:
                if value:
                    write_text(sheet, count, index, value)
            elif value is None:
                continue
            elif kind is datetime:
                write_datetime(count, index, value, number_format or as_datetime)
            elif kind is bool:
                write_boolean(count, index, value)
            elif kind is date:
                write_datetime(count, index, value, number_format or as_date)
            elif kind is int or kind is float:
                write_number(count, index, value, number_format)
            elif kind is Decimal:
                write_number(count, index, float(value), number_format)
            else:
                write_text(sheet, count, index, str(value))
    book.close()
    return count


def spooled() -> IO[bytes]:
    """A file for a response: in memory while small, on disk when large."""
    return tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned


def table_file(
    title: str, first_headers: Sequence[str], rows: Iterable[tuple[Sequence[Any], kpi.Counters]]
) -> IO[bytes]:
    """One statistics table as a finished xlsx file (rewound): label columns, then every KPI."""
    out = spooled()
    write_xlsx(
        out,
        title,
        [Column(h) for h in first_headers] + kpi_columns(),
        ([*labels, *kpi_values(counters)] for labels, counters in rows),
    )
    out.seek(0)
    return out


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
QUEUE_TITLE = "诉求清单"
_ON_TIME = {True: "是", False: "否"}


def _labels() -> dict[str, str]:
    """Choice labels in Chinese, like the headers: the file reads the same whoever exports it."""
    with translation.override("zh-hans"):
        return {
            c.value: str(c.label) for kind in (Channel, AppealType, Status, Rating) for c in kind
        }


# The appeal columns a queue row is made of (``queue_rows`` unpacks them in this order).
QUEUE_FIELDS = (
    "tracking_code",
    "created_at",
    "channel",
    "appeal_type",
    "category_id",
    "territory_id",
    "lead_unit_id",
    "status",
    "due_at",
    "closed_at",
    "closed_on_time",
    "rating",
    "return_count",
    "reopen_count",
    "citizen_phone",
    "title",
)


def queue_rows(user: User, filters: appeal_selectors.QueueFilter) -> Iterator[list[Any]]:
    """Every appeal of the console's queue, in the queue's order, ``CHUNK`` at a time.

    The console's own selector reads the queue by keyset, so the export holds one chunk at a
    time and shows exactly what the queue shows, in the same scope. Rows are plain tuples and
    unit and category names come from one read of those small tables: building four model
    instances per row was half the time of a large export.
    """
    labels = _labels()
    units = dict(OrgUnit.objects.values_list("pk", "name"))
    categories = dict(Category.objects.values_list("pk", "name"))
    city = timezone.get_default_timezone()

    def local(value: datetime | None) -> datetime | None:
        # Excel has no time zones: the city's wall-clock time, as staff read it on the pages.
        return None if value is None else value.astimezone(city).replace(tzinfo=None)

    for (
        code,
        created,
        channel,
        appeal_type,
        category,
        territory,
        lead_unit,
        status,
        due,
        closed,
        on_time,
        rating,
        returns,
        reopens,
        phone,
        title,
    ) in appeal_selectors.queue_values(user, filters, QUEUE_FIELDS, chunk=CHUNK):
        yield [
            code,
            local(created),
            labels.get(channel, channel),
            labels.get(appeal_type, appeal_type),
            categories.get(category, ""),
            units.get(territory, ""),
            units.get(lead_unit, ""),
            labels.get(status, status),
            local(due),
            local(closed),
            _ON_TIME.get(on_time, "") if closed else "",
            labels.get(rating, "") if rating else "",
            returns,
            reopens,
            mask_phone(phone),  # never unmasked in a file that travels
            title,
        ]


def write_queue(
    user: User,
    filters: appeal_selectors.QueueFilter,
    out: IO[bytes],
    *,
    tmpdir: Path | None = None,
) -> int:
    """The filtered queue exactly as the console shows it (same selector, same scope) into
    ``out`` as xlsx; returns the number of appeals written."""
    return write_xlsx(out, QUEUE_TITLE, QUEUE_COLUMNS, queue_rows(user, filters), tmpdir=tmpdir)
