"""Every page has the site's icon: the dashboard's pages name it, and `/favicon.ico` (asked for by pages that name
none, such as the admin's) leads to it, so no browser console shows a 404 for it."""

from django.contrib.staticfiles import finders
from django.test import Client


def test_favicon_ico_leads_to_the_sites_icon(db):
    response = Client(HTTP_HOST="localhost").get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"].endswith("favicon.svg")
    assert finders.find("favicon.svg") is not None


def test_the_dashboards_pages_name_the_icon(db):
    page = Client(HTTP_HOST="localhost").get("/login/").content.decode()

    assert 'rel="icon"' in page
    assert "favicon.svg" in page
