"""custos store: the admin API (tenants) and the server basics."""
import os
import stat

import requests


def test_operator_token_file_is_created_0600(store):
    path = store.data + "-operator.token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for name in ("master.key", "system.key"):
        st = os.stat(os.path.join(store.data, name))
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32


def test_tenant_create_list_show(store):
    t = store.tenant("acme")
    assert set(t) >= {"id", "name", "access_key_id", "secret_access_key",
                      "admin_token"}
    assert t["name"] == "acme"
    r = store.admin("GET", "/admin/v1/tenants")
    assert r.status_code == 200
    assert [x["name"] for x in r.json()["tenants"]] == ["acme"]
    assert "secret_access_key" not in r.text
    r = store.admin("GET", f"/admin/v1/tenants/{t['id']}")
    assert r.status_code == 200 and r.json()["state"] == "system_managed"
    # the tenant's own admin may read its tenant, nothing else
    r = store.admin("GET", f"/admin/v1/tenants/{t['id']}",
                    token=t["admin_token"])
    assert r.status_code == 200
    assert store.admin("GET", "/admin/v1/tenants",
                       token=t["admin_token"]).status_code == 401
    other = store.tenant("other")
    assert store.admin("GET", f"/admin/v1/tenants/{other['id']}",
                       token=t["admin_token"]).status_code == 401
    r = store.admin("GET", "/admin/v1/tenants/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "TenantNotFound"


def test_secrets_are_never_logged_or_stored_in_clear(store):
    t = store.tenant("acme")
    log = store.proc.log()
    assert t["secret_access_key"] not in log
    assert t["admin_token"] not in log
    assert store.operator_token not in log
    with open(os.path.join(store.data, "store.db"), "rb") as f:
        db = f.read()
    wal = os.path.join(store.data, "store.db-wal")
    if os.path.exists(wal):
        with open(wal, "rb") as f:
            db += f.read()
    assert t["secret_access_key"].encode() not in db
    assert t["admin_token"].encode() not in db


def test_admin_api_requires_the_operator_token(store):
    assert store.admin("POST", "/admin/v1/tenants", token="",
                       json={"name": "x"}).status_code == 401
    r = store.admin("POST", "/admin/v1/tenants", token="wrong-token",
                    json={"name": "x"})
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["error"]["code"] == "Unauthorized"


def test_bad_tenant_requests(store):
    for body in ({"name": ""}, {"name": "UPPER"}, {"name": "a" * 65},
                 {"nom": "x"}, [1]):
        r = store.admin("POST", "/admin/v1/tenants", json=body)
        assert r.status_code == 400, body
    r = store.admin("POST", "/admin/v1/tenants", data=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    store.tenant("dup")
    r = store.admin("POST", "/admin/v1/tenants", json={"name": "dup"})
    assert r.status_code == 409


def test_healthz_and_metrics(store):
    r = requests.get(store.url + "/healthz", verify=store.pki.ca)
    assert r.status_code == 200
    r = requests.get(store.url + "/metrics", verify=store.pki.ca)
    assert r.status_code == 200 and "http_requests" in r.text


def test_restart_keeps_tenants_and_objects(spawn, dev_pki, workdir):
    from conftest import start_store
    data = os.path.join(workdir, "store-data")
    st = start_store(spawn, dev_pki, data)
    t = st.tenant("acme")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="keep")
    s3.put_object(Bucket="keep", Key="k", Body=b"durable")
    st.proc.stop()
    st = start_store(spawn, dev_pki, data)
    s3 = st.s3(t)
    assert s3.get_object(Bucket="keep", Key="k")["Body"].read() == b"durable"


def test_kill_9_after_acknowledged_puts_loses_nothing(spawn, dev_pki,
                                                      workdir):
    from conftest import start_store
    data = os.path.join(workdir, "store-data")
    st = start_store(spawn, dev_pki, data)
    t = st.tenant("acme")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="keep")
    bodies = {f"k{i}": os.urandom(70000 + i) for i in range(10)}
    for k, v in bodies.items():
        s3.put_object(Bucket="keep", Key=k, Body=v)
    st.proc.kill()
    st = start_store(spawn, dev_pki, data)
    s3 = st.s3(t)
    for k, v in bodies.items():
        assert s3.get_object(Bucket="keep", Key=k)["Body"].read() == v
