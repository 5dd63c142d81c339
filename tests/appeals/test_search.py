"""The queue's search box: exactly the LIKE's results, through the bigram index on PostgreSQL.

``selectors._text_match`` adds ``appeal_search_vector(...) @@ appeal_search_query(text)``
(migration 0008) in front of the LIKE on PostgreSQL; SQLite keeps the LIKE alone. Whatever
the database, the rows found must be exactly those the plain LIKE finds, within the user's
scope.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minsheng.appeals import selectors, services
from minsheng.appeals.models import Appeal
from tests.appeals.factories import dispatched, submitted
from tests.appeals.test_console import client_for
from tests.conftest import World

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"
needs_postgres = pytest.mark.skipif(not POSTGRES, reason="the bigram index is PostgreSQL's")

# Few distinct characters, so substrings and random words often match: Chinese, Latin of both
# cases (and letters whose case mapping is odd), digits, punctuation, LIKE's wildcards and
# escape, quotes, the tsquery syntax's own characters, whitespace.
ALPHABET = "小区噪声扰民路灯坏了号楼aAbBzZßıİ0123456789，。！%_\\'\":&|!()<>* -.\n"
texts = st.text(alphabet=ALPHABET, max_size=24)


def like_ids(user, text: str) -> set[int]:
    """The oracle: what the search box found before the index, the plain LIKE (and code)."""
    text = text.strip()
    code = services.normalize_tracking_code(text)
    lookup = "contains" if text.upper() == text.lower() else "icontains"
    words = (
        Q(**{f"content__{lookup}": text})
        | Q(**{f"title__{lookup}": text})
        | Q(**{f"address__{lookup}": text})
        | Q(tracking_code=code)
    )
    return set(selectors.appeals_for(user).filter(words).values_list("pk", flat=True))


def appeal_reads(queries: CaptureQueriesContext) -> list[str]:
    """The statements that read appeals (not the user's posts)."""
    return [q["sql"] for q in queries.captured_queries if 'FROM "appeals_appeal"' in q["sql"]]


def search_ids(user, text: str) -> set[int]:
    filters = selectors.QueueFilter(text=text)
    return set(selectors.queue_queryset(user, filters).values_list("pk", flat=True))


def set_text(appeal: Appeal, *, title: str = "", content: str = "x", address: str = "") -> None:
    # Test data only: the texts under test, whatever the services would accept.
    Appeal.objects.filter(pk=appeal.pk).update(title=title, content=content, address=address)


@pytest.fixture
def four(world: World) -> list[Appeal]:
    """Two appeals only the city sees (received) and two dispatched to the town."""
    return [submitted(world), submitted(world), dispatched(world), dispatched(world)]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=st.lists(st.tuples(texts, texts, texts), min_size=4, max_size=4),
    pick=st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 30), st.integers(1, 6)),
    other=st.text(alphabet=ALPHABET, min_size=1, max_size=6),
)
def test_search_finds_exactly_what_like_finds_within_the_scope(
    world: World, four: list[Appeal], fields, pick, other
):
    # given four appeals with random texts (two of them in the town's scope)
    for appeal, (title, content, address) in zip(four, fields, strict=True):
        set_text(appeal, title=title, content=content, address=address)
    row, column, start, length = pick
    source = fields[row][column]
    substring = source[start : start + length] if start < len(source) else source[:length]
    for user in (world["dispatcher"], world["town_handler"]):
        for text in {substring, other, substring.upper(), substring.lower()}:
            if not text.strip():
                continue
            # when searching, then the rows are the LIKE's, scope included
            assert search_ids(user, text) == like_ids(user, text), (user.username, text)


@pytest.mark.parametrize(
    ("title", "content", "address", "query", "found"),
    [
        ("", "小区噪声扰民", "", "噪声扰民", True),
        ("", "小区噪声扰民", "", "噪扰", False),  # both bigrams' characters, not adjacent
        ("", "小区噪声扰民", "", "民", True),  # one character, the last of the field
        ("", "小区噪声扰民", "", "小", True),  # one character, the first
        ("", "小区噪声扰民", "", "区", True),
        ("", "小区噪声扰民", "", "灯", False),
        ("路灯", "小区", "", "灯小", False),  # never across two fields
        ("", "Street LIGHT broken", "", "light", True),  # letters: case-insensitive
        ("", "Street LIGHT broken", "", "t l", True),  # a space inside the text
        ("", "电费 100% 收取", "", "0%", True),
        ("", "电费 100 元", "", "0%", False),  # % is a character, not a wildcard
        ("", "a_b", "", "_", True),
        ("", "ab", "", "_", False),
        ("", "it's a \\ path", "", "'s a \\", True),
        ("", "x", "和兴镇18号楼", "18号", True),
        ("", "x", "和兴镇18号楼", "81", False),
        ("", "行1\n行2", "", "1\n行", True),
        ("", "行1\n行2", "", "1 行", False),
        ("", "x", "", "␣", False),  # the index's stand-in for a space is not a space
    ],
)
def test_search_cases(world: World, title, content, address, query, found):
    appeal = submitted(world)
    set_text(appeal, title=title, content=content, address=address)
    user = world["dispatcher"]
    assert search_ids(user, query) == ({appeal.pk} if found else set())
    assert search_ids(user, query) == like_ids(user, query)


def test_a_text_longer_than_the_index_takes_is_still_found(world: World):
    # given an appeal far longer than the 100,000 characters the index splits into bigrams
    long_one, short_one = submitted(world), submitted(world)
    set_text(long_one, content="路" * 100_000 + "噪声扰民" + "灯")
    set_text(short_one, content="噪声")
    user = world["dispatcher"]
    # then a word beyond every limit is found, and a word it lacks is not
    assert search_ids(user, "噪声扰民") == {long_one.pk}
    assert search_ids(user, "灯") == {long_one.pk}
    assert search_ids(user, "噪声") == {long_one.pk, short_one.pk}
    assert search_ids(user, "小区") == set()


def test_a_tracking_code_is_looked_up_by_its_index_alone(world: World):
    appeal, _other = submitted(world), submitted(world)
    code = appeal.tracking_code
    spaced = f"{code[:4].lower()} {code[4:]}"
    user = world["dispatcher"]
    with CaptureQueriesContext(connection) as queries:
        page = selectors.queue(user, selectors.QueueFilter(text=spaced))
    assert [a.pk for a in page.items] == [appeal.pk]
    (sql,) = appeal_reads(queries)
    assert "LIKE" not in sql.upper()
    assert "appeal_search" not in sql
    assert f"\"tracking_code\" = '{code}'" in sql


@needs_postgres
def test_on_postgresql_a_rare_word_goes_through_the_bigram_index(world: World):
    appeal = submitted(world)
    set_text(appeal, content="小区噪声扰民")
    user = world["dispatcher"]
    with CaptureQueriesContext(connection) as queries:
        page = selectors.queue(user, selectors.QueueFilter(text="噪声扰民"))
    assert [a.pk for a in page.items] == [appeal.pk]
    guard, rows = appeal_reads(queries)
    assert "appeal_search" not in guard  # the guard reads the newest appeals by id
    assert "appeal_search_vector" in rows and "appeal_search_query('噪声扰民')" in rows
    # the expression is the index's: PostgreSQL takes the index when told to avoid a scan
    qs = selectors.queue_queryset(user, selectors.QueueFilter(text="噪声扰民"))
    sql, params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
    assert "appeal_search" in plan


@needs_postgres
def test_on_postgresql_a_word_common_among_the_newest_appeals_walks_the_id_index(
    world: World, monkeypatch
):
    # given a guard that looks at the newest 3 appeals, a page of 1 row, equal row costs
    monkeypatch.setattr(selectors, "RECENT_APPEALS", 3)
    monkeypatch.setattr(selectors, "PAGE", 1)
    monkeypatch.setattr(selectors, "INDEX_ROW_COST", 1)
    older = [submitted(world), dispatched(world)]
    newest = [submitted(world), submitted(world), submitted(world)]
    contents = ["路灯", "路灯坏了", "噪声", "噪声", "噪声"]
    for appeal, content in zip([*older, *newest], contents, strict=True):
        set_text(appeal, content=content)
    city, town = world["dispatcher"], world["town_handler"]
    # when the city searches a word all the newest hold, then the LIKE alone walks the id index
    with CaptureQueriesContext(connection) as queries:
        assert search_ids(city, "噪声") == {a.pk for a in newest}
    guard, rows = appeal_reads(queries)
    assert "appeal_search" not in guard and "appeal_search" not in rows
    # when it searches a word none of the newest hold, then through the bigram index
    with CaptureQueriesContext(connection) as queries:
        assert search_ids(city, "路灯") == {a.pk for a in older}
    assert "appeal_search_query" in appeal_reads(queries)[-1]
    # when the town searches the common word, none of which it sees, then the index too
    with CaptureQueriesContext(connection) as queries:
        assert search_ids(town, "噪声") == set()
    assert "appeal_search_query" in appeal_reads(queries)[-1]
    assert search_ids(town, "路灯") == {older[1].pk} == like_ids(town, "路灯")


def test_sqlite_keeps_the_plain_like(world: World):
    if POSTGRES:
        pytest.skip("SQLite's behaviour")
    appeal = submitted(world)
    set_text(appeal, content="噪声")
    with CaptureQueriesContext(connection) as queries:
        assert search_ids(world["dispatcher"], "噪声") == {appeal.pk}
    (sql,) = appeal_reads(queries)
    assert "appeal_search" not in sql


def _search_page_queries(client: Client, text: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/console/appeals/", {"q": text}).status_code == 200
    return len(queries.captured_queries)


def test_a_search_page_runs_a_constant_number_of_queries(world: World):
    client = client_for(world["dispatcher"])
    for _ in range(3):
        set_text(submitted(world), content="噪声扰民")
    few = _search_page_queries(client, "噪声扰民")
    for _ in range(30):
        set_text(submitted(world), content="噪声扰民")
    many = _search_page_queries(client, "噪声扰民")
    assert few == many


@needs_postgres
@pytest.mark.django_db(transaction=True)  # no test transaction around it: as in a request
def test_a_search_keeps_its_bitmaps_exact_with_its_own_work_mem(world: World):
    set_text(dispatched(world), content="噪声扰民")
    user = world["town_handler"]
    with CaptureQueriesContext(connection) as queries:
        page = selectors.queue(user, selectors.QueueFilter(text="噪声"))
    assert len(page.items) == 1
    statements = [q["sql"] for q in queries.captured_queries]
    assert f"SET LOCAL work_mem = '{selectors.SEARCH_WORK_MEM}'" in statements
    # set for the search's transaction only: the connection's own setting is untouched after
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] != selectors.SEARCH_WORK_MEM
