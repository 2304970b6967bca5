from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": "ok"})


def portal(request: HttpRequest) -> HttpResponse:
    """Render a demo department page that embeds the widget like a real portal."""
    return render(request, "portal.html")
