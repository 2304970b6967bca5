from importlib import import_module


def load_demo_password() -> str:
    """Return the demo password through the load-demo module (its name has a dash)."""
    module = import_module("layanan.console.management.commands.load-demo")
    password: str = module.demo_password()
    return password
