"""Path converters shared by every app's urls.py (registered in project/urls.py)."""


class IdConverter:
    """A row id in a path: digits that fit PostgreSQL's bigint. Django's `int`
    takes any number of digits, and a 23-digit id overflowed SQLite when it
    reached a query (a 500); a longer one now matches no URL (404), as an id
    that does not exist should."""

    # 18 digits: every number below 10**18 fits in a signed 64-bit integer.
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))
