"""custos vault: an acknowledged change survives kill -9 (SQLite in WAL
mode with full fsync; the audit record of a request is durable before its
reply goes out): keys, versions, rotation policy, role assignments and
the audit chain, with requests still in flight when the vault dies."""
import base64
import os
import threading
import time

from conftest import run_cli, start_vault_with_data

AV = "?api-version=7.4"
SVC = "Key Vault Crypto Service Encryption User"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def audit_records(vault):
    """Every audit record, paging by sequence number (each page's request
    is a record too: a short page is the last)."""
    out, since = [], 0
    while True:
        r = vault.request("GET", f"/admin/v1/audit?since={since}&max=1000")
        assert r.status_code == 200, r.text
        page = r.json()["value"]
        out += page
        if len(page) < 1000:
            return out
        since = page[-1]["seq"]


def test_every_acknowledged_change_survives_kill_9(spawn, dev_pki, workdir):
    data = os.path.join(workdir, "vault-data")
    v = start_vault_with_data(spawn, dev_pki, data)
    acked = {}  # request id -> (principal, op, key)

    def call(principal, op, key, method, path, token=None, json=None):
        r = v.request(method, path, token=token, json=json)
        assert r.status_code in (200, 204), (op, r.text)
        acked[r.headers["x-request-id"]] = (principal, op, key)
        return r.json() if r.status_code == 200 else None

    def admin(op, key, method, path, json=None):
        return call("admin", op, key, method, path, json=json)

    k1 = admin("create", "k1", "POST", "/keys/k1/create" + AV,
               {"kty": "RSA", "key_size": 2048})
    k1v = [k1["key"]["kid"].rsplit("/", 1)[1]]
    k1v.append(admin("rotate", "k1", "POST", "/keys/k1/rotate" + AV
                     )["key"]["kid"].rsplit("/", 1)[1])
    k2v = [admin("create", "k2", "POST", "/keys/k2/create" + AV,
                 {"kty": "oct"})["key"]["kid"].rsplit("/", 1)[1]
           for _ in range(2)]
    admin("update", "k2", "PATCH", f"/keys/k2/{k2v[0]}" + AV,
          {"tags": {"owner": "acme"}})
    policy = {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"},
                                   "action": {"type": "Rotate"}}],
              "attributes": {"expiryTime": "P1Y"}}
    admin("setrotationpolicy", "k1", "PUT", "/keys/k1/rotationpolicy" + AV,
          policy)
    admin("create", "k3", "POST", "/keys/k3/create" + AV, {"kty": "oct"})
    admin("delete", "k3", "DELETE", "/keys/k3" + AV)
    token = admin("admin.principal.put", "", "PUT",
                  "/admin/v1/principals/svc", {"auth": "token"})["token"]
    admin("admin.role.put", "", "PUT", "/admin/v1/role-assignments/ra",
          {"principal": "svc", "role": SVC, "scope": "/keys/k2"})
    ceks = [os.urandom(32) for _ in range(3)]
    wrapped = [admin("wrapkey", "k2", "POST", "/keys/k2//wrapkey" + AV,
                     {"alg": "A256KW", "value": b64u(c)})["value"]
               for c in ceks]
    for w, c in zip(wrapped, ceks):
        u = call("svc", "unwrapkey", "k2", "POST",
                 f"/keys/k2/{k2v[1]}/unwrapkey" + AV, token,
                 {"alg": "A256KW", "value": w})
        assert u["value"] == b64u(c)

    # requests in flight when the vault dies: those answered must be there
    stop = threading.Event()
    lock = threading.Lock()
    answered = []

    def hammer():
        while not stop.is_set():
            try:
                r = v.request("POST", "/keys/k2//unwrapkey" + AV,
                              token=token,
                              json={"alg": "A256KW", "value": wrapped[0]})
            except Exception:  # the vault died under this request
                continue
            if r.status_code == 200:
                with lock:
                    answered.append(r.headers["x-request-id"])

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(answered) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    v.proc.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert len(answered) >= 20
    for rid in answered:
        acked[rid] = ("svc", "unwrapkey", "k2")

    # the chain as the crash left it, before any vault opens it again
    p = run_cli("vault", "audit", "verify", "--data", data)
    assert "intact" in p.stdout

    v2 = start_vault_with_data(spawn, dev_pki, data)
    r = v2.request("GET", "/keys" + AV)
    assert [x["kid"].rsplit("/", 1)[1] for x in r.json()["value"]] == \
        ["k1", "k2"]
    for name, versions in (("k1", k1v), ("k2", k2v)):
        r = v2.request("GET", f"/keys/{name}/versions" + AV)
        assert [x["kid"].rsplit("/", 1)[1] for x in r.json()["value"]] == \
            versions
    assert v2.request("GET", f"/keys/k2/{k2v[0]}" + AV).json()["tags"] == \
        {"owner": "acme"}
    got = v2.request("GET", "/keys/k1/rotationpolicy" + AV).json()
    assert got["lifetimeActions"] == policy["lifetimeActions"]
    assert got["attributes"] == policy["attributes"]
    assert v2.request("GET", "/deletedkeys/k3" + AV).status_code == 200
    roles = v2.request("GET", "/admin/v1/role-assignments").json()["value"]
    assert {"id": "ra", "principal": "svc", "role": SVC,
            "scope": "/keys/k2"} in [
        {k: x[k] for k in ("id", "principal", "role", "scope")}
        for x in roles]
    # the principal's token, its role and the sealed key material
    for w, c in zip(wrapped, ceks):
        r = v2.request("POST", "/keys/k2//unwrapkey" + AV, token=token,
                       json={"alg": "A256KW", "value": w})
        assert r.status_code == 200 and r.json()["value"] == b64u(c)
    r = v2.request("POST", "/keys/k1//unwrapkey" + AV, token=token,
                   json={"alg": "RSA-OAEP-256", "value": wrapped[0]})
    assert r.status_code == 403  # its role is on k2 only
    # an audit record of every acknowledged request, the chain intact
    recs = {x["request_id"]: x for x in audit_records(v2)}
    missing = [(rid, what) for rid, what in acked.items()
               if rid not in recs]
    assert not missing, missing
    for rid, (principal, op, key) in acked.items():
        x = recs[rid]
        assert (x["principal"], x["op"], x["key"], x["result"]) == \
            (principal, op, key, "ok"), x
    seqs = sorted(x["seq"] for x in recs.values())
    assert seqs == list(range(1, len(seqs) + 1))
    r = v2.request("GET", "/admin/v1/audit/verify").json()
    assert r["ok"] is True and r["records"] >= len(acked)
