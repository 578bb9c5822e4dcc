"""custos vault: settings and purge protection, the hash-chained audit log
(and its detection of an edited record), and the key event stream
(long-poll and server-sent events, resumable by sequence number)."""
import os
import sqlite3
import threading
import time

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import free_port, run_cli

POLL = {"_polling_interval": 0}


def test_purge_protection_refuses_purge_and_is_irreversible(protected_vault):
    v = protected_vault
    r = v.request("GET", "/admin/v1/settings")
    assert r.json()["purge_protection"] is True
    assert r.json()["soft_delete_retention_days"] == 7
    kc = v.key_client()
    k = kc.create_rsa_key("pp", size=2048)
    # a service checks purge protection from the key alone
    assert k.properties.recovery_level == "CustomizedRecoverable"
    assert k.properties.recoverable_days == 7
    d = kc.begin_delete_key("pp", **POLL).result()
    assert (d.scheduled_purge_date - d.deleted_date).days == 7
    with pytest.raises(HttpResponseError) as e:
        kc.purge_deleted_key("pp")
    assert e.value.status_code == 403
    # a refusal by the vault's setting, not by a role
    assert e.value.error.code == "Forbidden"
    assert e.value.error.innererror == {}
    r = v.request("PUT", "/admin/v1/settings",
                  json={"purge_protection": False})
    assert r.status_code == 409
    kc.begin_recover_deleted_key("pp", **POLL).result()


def test_settings_change_recovery_level(vault):
    kc = vault.key_client()
    assert kc.create_oct_key("a", size=256).properties.recovery_level == \
        "Recoverable+Purgeable"
    r = vault.request("PUT", "/admin/v1/settings",
                      json={"soft_delete_retention_days": 30})
    assert r.status_code == 200
    assert kc.get_key("a").properties.recovery_level == \
        "CustomizedRecoverable+Purgeable"
    assert kc.get_key("a").properties.recoverable_days == 30
    assert vault.request("PUT", "/admin/v1/settings",
                         json={"soft_delete_retention_days": 6}
                         ).status_code == 400
    vault.request("PUT", "/admin/v1/settings",
                  json={"soft_delete_retention_days": 90,
                        "purge_protection": True})
    assert kc.get_key("a").properties.recovery_level == "Recoverable"


def test_audit_records_every_request_and_detects_an_edit(vault):
    kc = vault.key_client()
    t0 = int(time.time() * 1000)
    k1 = kc.create_oct_key("aud", size=256)
    k2 = kc.create_oct_key("aud", size=256)
    kc.get_key("aud")
    kc.get_key("aud", k1.properties.version)
    vault.request("GET", "/keys?api-version=7.4", token="")  # refused
    r = vault.request("GET", "/admin/v1/audit?since=0")
    t1 = int(time.time() * 1000)
    recs = r.json()["value"]
    ops = [(x["principal"], x["op"], x["key"], x["version"], x["result"])
           for x in recs]
    v1, v2 = k1.properties.version, k2.properties.version
    # the version a request used: the one it named, else the latest (the
    # SDK's first request goes without a token, for the challenge)
    assert ops == [("", "create", "aud", "", "Unauthorized"),
                   ("admin", "create", "aud", v1, "ok"),
                   ("admin", "create", "aud", v2, "ok"),
                   ("admin", "get", "aud", v2, "ok"),
                   ("admin", "get", "aud", v1, "ok"),
                   ("", "list", "", "", "Unauthorized")]
    assert all(len(x["request_id"]) == 32 for x in recs)
    # ts: Unix milliseconds when the vault recorded it, in request order
    ts = [x["ts"] for x in recs]
    assert all(isinstance(t, int) for t in ts)
    assert t0 <= ts[0] and ts == sorted(ts) and ts[-1] <= t1
    assert [x["seq"] for x in recs] == [1, 2, 3, 4, 5, 6]
    assert vault.request("GET", "/admin/v1/audit/verify").json()["ok"]
    # edit one record behind the vault's back
    db = sqlite3.connect(os.path.join(vault.data, "audit.db"), timeout=10)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET principal = 'mallory' WHERE seq = 2")
    db.commit()
    db.close()
    v = vault.request("GET", "/admin/v1/audit/verify").json()
    assert v["ok"] is False and v["first_bad"] == 2
    p = run_cli("vault", "audit", "verify", "--data", vault.data,
                check=False)
    assert p.returncode == 1 and "2" in p.stdout + p.stderr


def test_events_long_poll_and_resume(vault):
    r = vault.request("GET", "/admin/v1/events?since=0")
    last = r.json()["last"]
    kc = vault.key_client()
    got = {}

    def poll():
        got["r"] = vault.request("GET",
                                 f"/admin/v1/events?since={last}&wait=20")

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    kc.create_oct_key("ev", size=256)
    t.join(25)
    assert time.monotonic() - t0 < 5
    ev = got["r"].json()["value"]
    assert ev[0]["type"] == "key_created" and ev[0]["key"] == "ev"
    seq = got["r"].json()["last"]
    kc.update_key_properties("ev", enabled=False)
    kc.update_key_properties("ev", enabled=True)
    kc.update_key_properties("ev", tags={"no": "event"})
    kc.begin_delete_key("ev", **POLL).result()
    kc.begin_recover_deleted_key("ev", **POLL).result()
    kc.rotate_key("ev")
    vault.principal("svc", "Key Vault Crypto Service Encryption User",
                    "/keys/ev")
    vault.unassign("svc")
    kc.begin_delete_key("ev", **POLL).result()
    kc.purge_deleted_key("ev")
    types = [e["type"] for e in vault.request(
        "GET", f"/admin/v1/events?since={seq}").json()["value"]]
    assert types == ["key_disabled", "key_enabled", "key_deleted",
                     "key_recovered",
                     "key_new_version", "role_assigned", "role_removed",
                     "key_deleted", "key_purged"]


def test_events_as_server_sent_events_resume_by_last_event_id(vault):
    import requests
    kc = vault.key_client()
    kc.create_oct_key("s1", size=256)
    hdr = {"Authorization": f"Bearer {vault.admin_token}",
           "Accept": "text/event-stream"}

    def read_events(headers, n):
        out = []
        with requests.get(vault.url + "/admin/v1/events", headers=headers,
                          verify=vault.pki.ca, stream=True,
                          timeout=20) as r:
            assert r.status_code == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            cur = {}
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("id: "):
                    cur["id"] = int(line[4:])
                elif line.startswith("event: "):
                    cur["event"] = line[7:]
                elif line == "" and cur:
                    out.append(cur)
                    cur = {}
                    if len(out) == n:
                        break
        return out

    first = read_events(dict(hdr), 2)  # role_assigned (bootstrap), s1
    assert first[1]["event"] == "key_created"
    kc.create_oct_key("s2", size=256)
    again = read_events(dict(hdr, **{"Last-Event-ID": str(first[1]["id"])}),
                        1)
    assert again[0]["event"] == "key_created"
    assert again[0]["id"] == first[1]["id"] + 1


def test_sigterm_answers_a_waiting_long_poll_before_it_stops(vault):
    """A graceful stop wakes long-polls: the waiting client gets its
    (empty) answer, not a connection cut at the stop's deadline."""
    last = vault.request("GET", "/admin/v1/events?since=0").json()["last"]
    got = {}

    def poll():
        try:
            got["r"] = vault.request(
                "GET", f"/admin/v1/events?since={last}&wait=30")
        except Exception as e:  # a cut connection
            got["e"] = e

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)  # let the request reach its wait
    assert vault.proc.stop() == 0
    t.join(60)
    assert "e" not in got, got.get("e")
    assert got["r"].status_code == 200
    assert got["r"].json()["value"] == []


def test_a_second_vault_on_the_same_data_directory_is_refused(vault):
    """Each vault process keeps a memo of what its database said, valid
    while it alone writes there: a second one is stopped at the door."""
    port = free_port()
    p = run_cli("vault", "serve", "--listen", f"127.0.0.1:{port}",
                "--tls-cert", vault.pki.cert, "--tls-key", vault.pki.key,
                "--data", vault.data, check=False, timeout=30)
    assert p.returncode != 0
    assert "another vault is serving" in p.stderr
    # the first one is untouched
    assert vault.request("GET", "/keys?api-version=7.4").status_code == 200


def test_a_vault_without_data_leaves_nothing_behind(spawn, dev_pki):
    """Without --data the vault keeps its files in a temporary directory
    of its own and removes all of it when it stops (its lock file
    included)."""
    import json

    from conftest import start_vault
    p, url = start_vault(spawn, dev_pki)
    data = None
    for line in p.log().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "ephemeral" in rec.get("msg", ""):
            data = rec.get("data")
    assert data and os.path.isdir(data), p.log()
    assert os.path.exists(os.path.join(data, "vault.lock"))
    p.stop()
    assert not os.path.exists(data), os.listdir(data)
