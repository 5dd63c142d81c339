"""Chinese substring search at scale (issue 6): a GIN index of character bigrams (PostgreSQL).

The queue's search box compares title, content and address with ``LIKE '%text%'``. A rare word
read every appeal in scope (seconds at a million appeals). Chinese has no spaces and the stored
text is not segmented the way a query would be, so the index keeps what any substring is made
of, as Lucene's CJKAnalyzer does: every pair of neighbouring characters of each field, and the
field's first and last character alone, upper-cased (``icontains`` compares ``UPPER()``). A
query of two or more characters needs all its bigrams; one character is a prefix match on the
lexemes that start with it. The LIKE stays as the exact recheck, so the result is exactly the
LIKE's (``selectors._text_match``).

- ``appeal_search_vector(title, content, address)``: the lexemes, no positions (GIN keeps none,
  and a phrase query would rebuild the vector of every candidate row to check adjacency; the
  LIKE checks it exactly instead). A tsvector holds at most 1 MB of lexemes: above 100,000
  characters (20 times the longest content the services accept) a row gets the single lexeme
  ``<long>``, which every query also accepts, so such a row is always rechecked, never missed,
  and a write never fails on the index.
- ``appeal_search_query(text)``: the tsquery of a search text, built in SQL from the same
  tokens, so both sides agree on every character (``upper()`` included); at most 16 bigrams of
  its first 32 characters (a necessary condition is enough, the LIKE decides).
- ``appeal_search``: GIN expression index on the vector: no new column, so the write path and
  the bulk loaders stay as they are. Built CONCURRENTLY (the migration is not atomic): a big
  table stays writable while it builds.

SQLite (the county default, ~32,000 appeals a year) keeps the plain LIKE: nothing happens there.
"""

from django.db import migrations

# A field's lexemes, with no loop: every character doubled with a space between ("abc" becomes
# "a ab bc c"), split on the spaces: the first character, every bigram, the last character. The
# text's own spaces become "␣" first, so the split is exact (a search for "␣" then gets a few
# more candidates, which the LIKE drops). Built-in C functions only: 180 characters take 85 µs,
# where a loop over the characters in SQL took 300. One expression, which PostgreSQL inlines.
VECTOR = r"""
CREATE OR REPLACE FUNCTION appeal_search_vector(title text, content text, address text)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN char_length(title) + char_length(content) + char_length(address) > 100000
      THEN array_to_tsvector('{<long>}'::text[])
    ELSE array_to_tsvector(
      string_to_array(regexp_replace(translate(upper(title), ' ', '␣'), '.', '\& \&', 'g'), ' ')
      || string_to_array(regexp_replace(translate(upper(content), ' ', '␣'), '.', '\& \&', 'g'),
                         ' ')
      || string_to_array(regexp_replace(translate(upper(address), ' ', '␣'), '.', '\& \&', 'g'),
                         ' '))
  END
$$
"""

# The same tokens of the text's first 32 characters: one character is a prefix match, more are
# the AND of their bigrams (the tokens between the first and the last). Lexemes are quoted for
# the tsquery parser (quotes and backslashes doubled), never normalised.
QUERY = r"""
CREATE OR REPLACE FUNCTION appeal_search_query(q text)
RETURNS tsquery LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT (CASE
    WHEN cardinality(t) = 2
      THEN '''' || replace(replace(t[1], '\', '\\'), '''', '''''') || ''':*'
    ELSE (SELECT '(' || string_agg('''' || replace(replace(g, '\', '\\'), '''', '''''') || '''',
                                   ' & ') || ')'
            FROM (SELECT DISTINCT g FROM unnest(t[2:cardinality(t) - 1]) AS g LIMIT 16) AS grams)
  END || ' | ''<long>''')::tsquery
  FROM (SELECT string_to_array(
          regexp_replace(translate(upper(left(q, 32)), ' ', '␣'), '.', '\& \&', 'g'), ' ') AS t
       ) AS tokens
$$
"""

INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS appeal_search ON appeals_appeal "
    "USING gin (appeal_search_vector(title, content, address))"
)


def forwards(apps, schema_editor):
    """PostgreSQL only. An earlier CONCURRENTLY build that failed leaves an invalid index of the
    same name behind, which IF NOT EXISTS would keep: drop it first."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(VECTOR)
        cursor.execute(QUERY)
        cursor.execute(
            "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('appeal_search') "
            "AND NOT indisvalid"
        )
        if cursor.fetchone():
            cursor.execute("DROP INDEX CONCURRENTLY appeal_search")
        cursor.execute("SET maintenance_work_mem = '256MB'")  # a GIN build sorts in memory
        try:
            cursor.execute(INDEX)
        finally:
            cursor.execute("RESET maintenance_work_mem")
        # ANALYZE gathers the lexemes' frequencies of the indexed expression: the planner's
        # estimates of the @@ condition (beside the scope's indexes) come from them.
        cursor.execute("ANALYZE appeals_appeal")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX CONCURRENTLY IF EXISTS appeal_search")
        cursor.execute("DROP FUNCTION IF EXISTS appeal_search_query(text)")
        cursor.execute("DROP FUNCTION IF EXISTS appeal_search_vector(text, text, text)")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("appeals", "0007_status_due_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
