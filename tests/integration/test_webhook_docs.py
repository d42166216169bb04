"""docs/webhooks.md's verification code works: the Python (standard library) and Node snippets,
as printed there, accept a delivery signed as the workers sign it (two secrets after a
rotation) and refuse a changed body."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.webhooks import new_secret
from runtime.webhook_http import signed_headers

DOC = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()


def snippet(language: str, after: str) -> str:
    section = DOC[DOC.index(after):]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def signed(secrets: list[str]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": "evt_test_doc", "object": "event", "type": "customer.created"}).encode()
    return body, signed_headers("evt_test_doc", body, secrets, datetime.now(UTC))


def test_the_python_standard_library_snippet_verifies():
    namespace: dict = {}
    exec(snippet("python", "### Python, with the standard library only"), namespace)
    old, new = new_secret(), new_secret()
    body, headers = signed([new, old])
    assert namespace["verify"](old, body, headers)["id"] == "evt_test_doc"
    assert namespace["verify"](new, body, headers)["id"] == "evt_test_doc"
    with pytest.raises(ValueError):
        namespace["verify"](new, body + b" ", headers)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet_verifies(tmp_path):
    old, new = new_secret(), new_secret()
    body, headers = signed([new, old])
    script = snippet("js", "### Node.js, with `node:crypto` only") + """
const given = JSON.parse(process.argv[2]);
const out = [];
for (const secret of given.secrets) out.push(verify(secret, Buffer.from(given.body), given.headers).id);
try { verify(given.secrets[0], Buffer.from(given.body + " "), given.headers); out.push("accepted"); }
catch (e) { out.push("refused"); }
console.log(JSON.stringify(out));
"""
    (tmp_path / "verify.js").write_text(script)
    given = json.dumps({"secrets": [old, new], "body": body.decode(), "headers": headers})
    ran = subprocess.run(["node", str(tmp_path / "verify.js"), given], capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == ["evt_test_doc", "evt_test_doc", "refused"]
