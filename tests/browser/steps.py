"""Steps the browser tests share: logging in and out as a person does."""

import re


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo-pass")
    page.click("button[type=submit].primary")


def log_out(page):
    page.click("form[action$='/accounts/logout/'] button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/login/"))
