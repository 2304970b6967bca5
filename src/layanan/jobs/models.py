from django.db import models


class Lease(models.Model):
    """A periodic job's lock, so that several workers run each job once at a time."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=100)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder}"
