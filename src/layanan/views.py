from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from layanan.middleware import default_policy


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": "ok"})


def portal(request: HttpRequest) -> HttpResponse:
    """Render a demo department page that embeds the widget like a real portal.

    The page may be opened under another host name than LAYANAN_BASE_URL's (as the
    browser tests do, to make the widget cross-site), so its policy names the base
    origin for the loader script and the panel frame.
    """
    response = render(request, "portal.html")
    base = settings.BASE_ORIGIN
    response.headers["Content-Security-Policy"] = (
        default_policy(request)
        .replace("script-src 'self'", f"script-src 'self' {base}")
        .replace("frame-src 'self'", f"frame-src 'self' {base}")
    )
    return response
