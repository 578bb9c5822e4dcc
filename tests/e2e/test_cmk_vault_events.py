"""The vault's key event stream for non-administrators: each principal
sees the events of keys it holds a role on and the role events naming
itself (even after the role is gone); administrators see everything; a
long-poll does not return early because of events the caller may not
see."""
import time

CSEU = "Key Vault Crypto Service Encryption User"


def events(vault, token, since=0, wait=0):
    r = vault.request("GET",
                      f"/admin/v1/events?since={since}&wait={wait}",
                      token=token)
    assert r.status_code == 200, r.text
    return r.json()


def test_events_are_filtered_by_role(vault):
    kc = vault.key_client()
    kc.create_rsa_key("k1", size=2048)
    kc.create_rsa_key("k2", size=2048)
    svc = vault.principal("svc", CSEU, "/keys/k1")
    vault.principal("other", CSEU, "/keys/k2")
    mine = events(vault, svc)
    assert mine["value"], mine
    for e in mine["value"]:
        if e["type"].startswith("role_"):
            assert '"svc"' in e["detail"], e
        else:
            assert e["key"] == "k1", e
    assert any(e["type"] == "role_assigned" for e in mine["value"])
    assert any(e["key"] == "k1" and e["type"] == "key_created"
               for e in mine["value"])
    everything = events(vault, None)
    assert {e["key"] for e in everything["value"]} >= {"k1", "k2"}
    assert everything["last"] == mine["last"]
    # key events of k1 reach svc, k2's do not
    last = mine["last"]
    kc.update_key_properties("k2", enabled=False)
    kc.update_key_properties("k1", enabled=False)
    page = events(vault, svc, since=last)
    assert [e["key"] for e in page["value"]] == ["k1"]
    # revocation: svc still sees its own role_removed
    last = page["last"]
    vault.unassign("svc")
    page = events(vault, svc, since=last)
    assert [e["type"] for e in page["value"]] == ["role_removed"]
    assert '"svc"' in page["value"][0]["detail"]
    # and, holding no role now, nothing of k1 afterwards
    last = page["last"]
    kc.update_key_properties("k1", enabled=True)
    page = events(vault, svc, since=last)
    assert page["value"] == [] and page["last"] > last


def test_long_poll_ignores_invisible_events(vault):
    kc = vault.key_client()
    kc.create_rsa_key("k1", size=2048)
    kc.create_rsa_key("k2", size=2048)
    svc = vault.principal("svc", CSEU, "/keys/k1")
    last = events(vault, svc)["last"]
    import threading

    def later():
        time.sleep(0.5)
        kc.update_key_properties("k2", enabled=False)
    th = threading.Thread(target=later)
    th.start()
    t0 = time.time()
    page = events(vault, svc, since=last, wait=2)
    took = time.time() - t0
    th.join()
    assert page["value"] == []
    assert took >= 1.8, took
    assert page["last"] > last
    # a visible event wakes the long-poll at once
    last = page["last"]

    def soon():
        time.sleep(0.3)
        kc.update_key_properties("k1", enabled=False)
    th = threading.Thread(target=soon)
    th.start()
    t0 = time.time()
    page = events(vault, svc, since=last, wait=10)
    th.join()
    assert [e["key"] for e in page["value"]] == ["k1"]
    assert time.time() - t0 < 5


def test_events_need_authentication(vault):
    r = vault.request("GET", "/admin/v1/events", token="")
    assert r.status_code == 401
