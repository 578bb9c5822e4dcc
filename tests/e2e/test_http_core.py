"""The HTTPS server core, end to end: `custos pki` and a minimal
`custos vault serve` driven by python requests and ssl."""
import json
import re
import signal
import socket
import ssl

import pytest
import requests

from conftest import run_cli, start_vault


def log_lines(proc):
    """The process's JSON log lines (also after stop(), which closes the
    process's log handle)."""
    out = []
    with open(proc.log_path) as f:
        text = f.read()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_pki_init_and_client_certificates(dev_pki):
    import os
    import stat
    for f in (dev_pki.ca, dev_pki.cert, dev_pki.key):
        assert os.path.exists(f)
    assert stat.S_IMODE(os.stat(dev_pki.key).st_mode) == 0o600
    cert, key, fp = dev_pki.client("custos-store")
    assert re.fullmatch(r"[0-9a-f]{64}", fp), fp
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    # a second init on the same directory is refused, not overwritten
    p = run_cli("pki", "init", "--dir", dev_pki.dir, check=False)
    assert p.returncode == 1
    assert "already holds a CA" in p.stderr
    p = run_cli("pki", "issue-client", "--dir", dev_pki.dir, "--name",
                "../x", check=False)
    assert p.returncode == 2


def test_healthz_over_tls_verifying_the_dev_ca(spawn, dev_pki):
    proc, url = start_vault(spawn, dev_pki)
    r = requests.get(url + "/healthz", verify=dev_pki.ca, timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["content-type"] == "application/json"
    rid = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    r2 = requests.get(url + "/healthz", verify=dev_pki.ca, timeout=5)
    assert r2.headers["x-request-id"] != rid
    # unknown path and wrong method: JSON errors
    r = requests.get(url + "/no/such", verify=dev_pki.ca, timeout=5)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NotFound"
    r = requests.post(url + "/healthz", verify=dev_pki.ca, timeout=5)
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]


def test_listening_line_and_one_access_log_line_per_request(spawn, dev_pki):
    proc, url = start_vault(spawn, dev_pki)
    s = requests.Session()
    ids = []
    for _ in range(3):
        r = s.get(url + "/healthz?secret=sig123", verify=dev_pki.ca,
                  timeout=5, headers={"Authorization": "Bearer TOPSECRET"})
        ids.append(r.headers["x-request-id"])
    proc.stop()
    lines = log_lines(proc)
    listening = [l for l in lines if l["msg"] == "listening"]
    assert len(listening) == 1
    assert listening[0]["url"].startswith("https://127.0.0.1:")
    access = [l for l in lines if l["msg"] == "request"]
    by_id = {l["request_id"]: l for l in access}
    for rid in ids:
        line = by_id[rid]
        assert line["method"] == "GET"
        assert line["path"] == "/healthz"  # never the query string
        assert line["status"] == 200
        assert line["bytes_out"] == len('{"status":"ok"}')
        assert line["bytes_in"] == 0
        assert line["duration_ms"] >= 0
        assert line["peer"] == "127.0.0.1"
    with open(proc.log_path) as f:
        text = f.read()
    assert "TOPSECRET" not in text
    assert "sig123" not in text


def test_metrics_are_prometheus_text(spawn, dev_pki):
    proc, url = start_vault(spawn, dev_pki)
    requests.get(url + "/healthz", verify=dev_pki.ca, timeout=5)
    r = requests.get(url + "/metrics", verify=dev_pki.ca, timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    body = r.text
    assert "# TYPE http_requests_total counter" in body
    assert re.search(r'^http_requests_total\{method="GET",code="200"\} \d+$',
                     body, re.M)
    assert "# TYPE http_request_duration_seconds histogram" in body
    assert 'http_request_duration_seconds_bucket{le="+Inf"}' in body
    assert re.search(r"^http_requests_in_flight 1$", body, re.M)
    for line in body.splitlines():
        assert line.startswith("#") or re.fullmatch(
            r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eInfNa]+', line), line


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_1_is_refused_and_1_2_1_3_accepted(spawn, dev_pki):
    proc, url = start_vault(spawn, dev_pki)
    port = int(url.rsplit(":", 1)[1])

    def handshake(lo, hi):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(dev_pki.ca)
        # let the client offer old versions: the refusal must be the server's
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = lo
        ctx.maximum_version = hi
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                return t.version()

    try:
        v = handshake(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
        raise AssertionError(f"TLS 1.1 handshake succeeded: {v}")
    except (ssl.SSLError, ConnectionResetError):
        pass
    assert handshake(ssl.TLSVersion.TLSv1_2,
                     ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert handshake(ssl.TLSVersion.TLSv1_3,
                     ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_client_certificate_is_accepted_and_optional(spawn, dev_pki):
    proc, url = start_vault(spawn, dev_pki)
    cert, key, _ = dev_pki.client("custos-store")
    r = requests.get(url + "/healthz", verify=dev_pki.ca, cert=(cert, key),
                     timeout=5)
    assert r.status_code == 200
    r = requests.get(url + "/healthz", verify=dev_pki.ca, timeout=5)
    assert r.status_code == 200


def test_sigterm_and_sigint_exit_cleanly(spawn, dev_pki):
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc, url = start_vault(spawn, dev_pki)
        requests.get(url + "/healthz", verify=dev_pki.ca, timeout=5)
        assert proc.stop(sig) == 0
        msgs = [l["msg"] for l in log_lines(proc)]
        assert "stopping" in msgs and msgs[-1] == "stopped"


def test_help_and_usage_errors():
    for args in (("pki", "--help"), ("pki", "init", "--help"),
                 ("pki", "issue-client", "--help"), ("vault", "--help"),
                 ("vault", "serve", "--help")):
        p = run_cli(*args)
        assert "usage:" in p.stdout, args
    p = run_cli("vault", "serve", "--listen", "127.0.0.1:1", check=False)
    assert p.returncode == 2
    assert "required" in p.stderr
    p = run_cli("vault", "serve", "--listen", "nope", "--tls-cert", "a",
                "--tls-key", "b", check=False)
    assert p.returncode == 2


def test_missing_tls_files_fail_with_a_clear_log(workdir):
    p = run_cli("vault", "serve", "--listen", "127.0.0.1:0", "--tls-cert",
                workdir + "/none.pem", "--tls-key", workdir + "/none.key",
                check=False)
    assert p.returncode == 1
    assert "cannot read a TLS file" in p.stderr
