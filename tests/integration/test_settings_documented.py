"""Every environment variable the service reads is in the README's settings table."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["runtime", "paymentkit", "api", "workers", "domain", "migrations", "gunicorn.conf.py", "celeryconfig.py"]
# os.environ["NAME"], os.environ.get("NAME"), env.get("NAME"), env["NAME"], _int(env, "NAME", ...)
READS = re.compile(r"""(?:environ|env)(?:\.get\(|\.setdefault\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']|_int\(env, "([A-Z0-9_]+)\"""")
# PATH: put in front of the venv's bin by `paymentkit dev`, not read as a setting; REMOTE_*: keys
# of a WSGI request's environ (api/gunicorn_worker.py builds one), not of the process's environment.
NOT_SETTINGS = {"PATH", "REMOTE_ADDR", "REMOTE_PORT"}


def settings_read() -> set[str]:
    files = [path for name in SOURCES for path in ((ROOT / name).rglob("*.py") if (ROOT / name).is_dir()
                                                    else [ROOT / name])]
    return {a or b for path in files for a, b in READS.findall(path.read_text())} - NOT_SETTINGS


def test_the_readme_settings_table_names_every_setting_the_code_reads():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| variable | default | meaning |"):]
    table = table[:table.index("\n\n")]
    found = settings_read()
    assert {"DATABASE_URL", "HOST", "WEB_CONCURRENCY", "SHARE_RATE_CAPACITY", "PAYMENTKIT_DATA_DIR"} <= found
    assert sorted(name for name in found if f"`{name}`" not in table) == []
