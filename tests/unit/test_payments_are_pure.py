"""domain/payments/ is pure (ARCHITECTURE 7): the standard library and our own domain modules
only, so no database, HTTP or Celery reaches the money rules or the test processor. The one
exception is the Stripe connector, domain/payments/stripe.py: it alone imports `stripe`, and no
other module of ours does."""
import ast
import sys
from pathlib import Path

import domain.payments

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_DOMAIN = {"domain.errors", "domain.ids", "domain.currencies"}
STRIPE_CONNECTOR = ROOT / "domain" / "payments" / "stripe.py"
OUR_CODE = ["domain", "runtime", "api", "workers", "paymentkit", "migrations"]


def imported_modules(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.append(node.module)
    return modules


def test_payments_import_only_the_standard_library_and_pure_domain_modules():
    package = Path(domain.payments.__file__).parent
    for path in package.glob("*.py"):
        for module in imported_modules(path):
            ours = module.startswith("domain.payments") or module in ALLOWED_DOMAIN
            stripe = path == STRIPE_CONNECTOR and module.split(".")[0] == "stripe"
            assert ours or stripe or module.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {module}"


def test_only_the_stripe_connector_imports_stripe():
    importers = {path.relative_to(ROOT).as_posix()
                 for name in OUR_CODE for path in (ROOT / name).rglob("*.py")
                 if any(module.split(".")[0] == "stripe" for module in imported_modules(path))}
    assert importers == {"domain/payments/stripe.py"}
