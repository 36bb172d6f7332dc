"""Old home of the after-sales test factories, until every test imports tests/aftersales/factories.py."""

from tests.aftersales.factories import make_after_sale, snapshot  # noqa: F401
