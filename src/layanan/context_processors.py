from django.conf import settings
from django.http import HttpRequest


def layanan(request: HttpRequest) -> dict[str, object]:
    return {
        "BASE_URL": settings.BASE_URL,
        "LANGUAGES": settings.LANGUAGES,
        "DEMO": not settings.PRODUCTION,
    }
