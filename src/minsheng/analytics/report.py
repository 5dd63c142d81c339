"""The annual or quarterly report (.docx): the reference report's sentences and tables.

The statistics section writes "全年共受理…件，已办结…件，办结率…%，正在办理…件" from the rollups
(``kpi`` rules, the whole city), then tables by channel, category, township and unit. The
document is in Chinese, as the center files it, whatever the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import IO, Any

from django.utils import translation
from docx import Document
from docx.shared import Pt

from minsheng.appeals.choices import Channel
from minsheng.core.errors import DomainError

from . import kpi, selectors
from .errors import AnalyticsError
from .exports import KPI_HEADERS

REPORT_COLUMNS = ("received", "closed", "completion_rate", "on_time_rate", "satisfaction_rate")


def period_of(year: int, quarter: int | None = None) -> tuple[date, date, str]:
    """First day, last day and the Chinese name of a year or one of its quarters."""
    if not 2000 <= year <= 2100 or (quarter is not None and quarter not in (1, 2, 3, 4)):
        raise DomainError(AnalyticsError.BAD_PERIOD, {"year": year, "quarter": quarter})
    if quarter is None:
        return date(year, 1, 1), date(year, 12, 31), f"{year}年"
    first = date(year, 3 * quarter - 2, 1)
    last = (date(year, 3 * quarter, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last, f"{year}年第{'一二三四'[quarter - 1]}季度"


def _cell_text(counters: kpi.Counters, name: str) -> str:
    value = getattr(counters, name)
    if name.endswith("_rate"):
        return kpi.format_percent(value)
    return str(value)


def _table(document: Any, title: str, rows: list[tuple[str, kpi.Counters]]) -> None:
    document.add_heading(title, level=2)
    table = document.add_table(rows=1, cols=1 + len(REPORT_COLUMNS))
    table.style = "Table Grid"
    header = table.rows[0].cells
    header[0].text = "名称"
    for i, name in enumerate(REPORT_COLUMNS, start=1):
        header[i].text = KPI_HEADERS[name]
    for label, counters in rows:
        cells = table.add_row().cells
        cells[0].text = label
        for i, name in enumerate(REPORT_COLUMNS, start=1):
            cells[i].text = _cell_text(counters, name)


def build_report(
    year: int,
    quarter: int | None = None,
    *,
    output: IO[bytes] | str,
    progress: Callable[[int, int], None] | None = None,
) -> kpi.Counters:
    """Write the report to ``output``; returns the period's totals."""
    with translation.override("zh-hans"):  # the report is filed in Chinese
        return _build(year, quarter, output=output, progress=progress)


def _build(
    year: int,
    quarter: int | None,
    *,
    output: IO[bytes] | str,
    progress: Callable[[int, int], None] | None,
) -> kpi.Counters:
    first, last, name = period_of(year, quarter)
    scope = selectors.Scope(everything=True)
    f = selectors.StatsFilter(date_from=first, date_to=last)
    steps = 6
    step = 0

    def advance() -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, steps)

    document = Document()
    style = document.styles["Normal"]
    style.font.size = Pt(11)
    document.add_heading(f"{name}12345 接诉即办工作报告", level=1)
    totals = selectors.totals(scope, f)
    advance()
    document.add_heading("一、总体情况", level=2)
    whole = "全年" if quarter is None else "本季度"
    document.add_paragraph(kpi.report_sentence(totals, period=whole))
    document.add_paragraph(
        f"按时办结率{kpi.format_percent(totals.on_time_rate)}，"
        f"响应率{kpi.format_percent(totals.response_rate)}，"
        f"满意率{kpi.format_percent(totals.satisfaction_rate)}，"
        f"解决率{kpi.format_percent(totals.resolution_rate)}。"
    )
    channels = selectors.by_dimension(scope, f, "channel")
    _table(
        document,
        "二、按受理渠道",
        [(str(c.label), channels.get(c.value, kpi.Counters())) for c in Channel],
    )
    advance()
    _table(
        document,
        "三、按诉求分类",
        [
            (r.category.name if r.category else "未分类", r.counters)
            for r in selectors.category_table(scope, f)
        ],
    )
    advance()
    places = [
        r
        for r in selectors.unit_table(scope, f, axis="territory")
        if r.unit and r.unit.is_territorial
    ]
    _table(document, "四、按镇（街道）", [(r.unit.name, r.counters) for r in places if r.unit])
    advance()
    units = selectors.unit_table(scope, f)
    _table(
        document,
        "五、按承办单位",
        [(r.unit.name if r.unit else "中心直接办理", r.counters) for r in units],
    )
    advance()
    document.add_paragraph(
        "说明：统计口径见《KPI定义》（docs/kpi.md）：按受理日期统计，无效与并单诉求不计入受理量；"
        "比率保留两位小数，四舍五入。"
    )
    document.save(output)
    advance()
    return totals
