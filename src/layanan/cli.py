"""The ``layanan`` command: Django's management commands with Layanan's settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "layanan.settings")
    from django.core.management import execute_from_command_line

    from layanan.env import ConfigurationError

    try:
        execute_from_command_line(sys.argv)
    except ConfigurationError as error:
        # A bad LAYANAN_* value: the message names the variable and the fix.
        sys.stderr.write(f"layanan: {error}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
