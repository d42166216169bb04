"""domain/payments/ is pure (ARCHITECTURE 7): the standard library and our own domain modules
only, so no database, HTTP or Celery reaches the money rules or the test processor."""
import ast
import sys
from pathlib import Path

import domain.payments

ALLOWED_DOMAIN = {"domain.errors", "domain.ids", "domain.currencies"}


def test_payments_import_only_the_standard_library_and_pure_domain_modules():
    package = Path(domain.payments.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module]
            else:
                continue
            for module in modules:
                ours = module.startswith("domain.payments") or module in ALLOWED_DOMAIN
                assert ours or module.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {module}"
