"""Small things a first visit trips over: the favicon, the README's port."""

from pathlib import Path

from django.conf import settings


def test_the_favicon_is_served_by_the_app(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_every_page_names_the_icon(client):
    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/favicon.ico">' in html


def test_the_readme_says_how_to_choose_the_port():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    assert "make run PORT=" in readme
