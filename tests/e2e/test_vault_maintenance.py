"""custos vault: its background work seen from outside, on vaults that do
it every second (--maintenance-interval 1): rotation by policy, near-expiry
events, the scheduled purge after the retention period.

Azure's minimums (a rotation 7 days after creation at the earliest, 7 days
of soft-delete retention) cannot be waited for. Where a test needs a key
older than it is, it stops the vault, moves that key's stored times back
(as the days passing would have), and starts the vault again on the same
data: the vault itself has no switch for tests."""
import datetime
import os
import sqlite3
import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.keys import (KeyRotationLifetimeAction,
                                 KeyRotationPolicy, KeyRotationPolicyAction)

from conftest import run_cli, start_vault_with_data

DAY = 86400
POLL = {"_polling_interval": 0}


def start(spawn, pki, data, *extra):
    return start_vault_with_data(spawn, pki, data,
                                 "--maintenance-interval", "1", *extra)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=0)


def events(v, since=0):
    """Every event after `since` (a list) and the last sequence number."""
    out = []
    while True:
        r = v.request("GET", f"/admin/v1/events?since={since}")
        assert r.status_code == 200, r.text
        page = r.json()
        if not page["value"]:
            return out, page["last"]
        out += page["value"]
        since = page["last"]


def last_seq(v):
    return events(v)[1]


def wait_event(v, since, type_, key, timeout=10.0):
    """The first `type_` event of `key` after `since`, long-polling for it
    (a pass runs every second: it comes in about one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = v.request("GET", f"/admin/v1/events?since={since}&wait=1")
        assert r.status_code == 200, r.text
        for e in r.json()["value"]:
            if e["type"] == type_ and e["key"] == key:
                return e
        since = r.json()["last"]
    raise AssertionError(f"no {type_} event of {key} in {timeout}s")


_passes = [0]


def a_later_pass(v):
    """Return once a whole maintenance pass has run after this call: a
    key made now, a day from expiry, is told of by the next pass."""
    _passes[0] += 1
    name = f"tick-{_passes[0]}"
    seq = last_seq(v)
    v.key_client().create_oct_key(
        name, size=256, expires_on=utcnow() + datetime.timedelta(days=1))
    wait_event(v, seq, "key_near_expiry", name)


def of(evs, type_, key):
    return [e for e in evs if e["type"] == type_ and e["key"] == key]


def versions(kc, name):
    return list(kc.list_properties_of_key_versions(name))


def backdate(v, *changes):
    """Stop vault v and move stored times into the past: each change is
    (sql, days), the SQL taking the seconds as its one parameter."""
    assert v.proc.stop() == 0
    db = sqlite3.connect(os.path.join(v.data, "vault.db"), timeout=10)
    for sql, days in changes:
        assert db.execute(sql, (days * DAY,)).rowcount >= 1, sql
    db.commit()
    db.close()


def test_a_key_is_rotated_before_it_expires_as_its_policy_says(
        spawn, dev_pki, workdir):
    v = start(spawn, dev_pki, os.path.join(workdir, "vault-data"))
    kc = v.key_client()
    now = utcnow()
    k = kc.create_oct_key("rot-exp", size=256,
                          expires_on=now + datetime.timedelta(days=10))
    seq = last_seq(v)
    kc.update_key_rotation_policy("rot-exp", KeyRotationPolicy(
        lifetime_actions=[KeyRotationLifetimeAction(
            KeyRotationPolicyAction.rotate, time_before_expiry="P30D")],
        expires_in="P1Y"))
    ev = wait_event(v, seq, "key_new_version", "rot-exp")
    latest = kc.get_key("rot-exp")
    assert ev["version"] == latest.properties.version
    assert latest.properties.version != k.properties.version
    # the new version expires as the policy says, so is not due again
    left = latest.properties.expires_on - now
    assert datetime.timedelta(days=365) <= left < datetime.timedelta(
        days=365, minutes=5)
    a_later_pass(v)
    assert len(versions(kc, "rot-exp")) == 2
    assert len(of(events(v, seq)[0], "key_new_version", "rot-exp")) == 1


def test_a_key_is_rotated_a_set_time_after_creation(spawn, dev_pki,
                                                      workdir):
    data = os.path.join(workdir, "vault-data")
    v = start(spawn, dev_pki, data)
    kc = v.key_client()
    kc.create_oct_key("rot-age", size=256)
    kc.create_oct_key("no-policy", size=256)
    kc.update_key_rotation_policy("rot-age", KeyRotationPolicy(
        lifetime_actions=[KeyRotationLifetimeAction(
            KeyRotationPolicyAction.rotate, time_after_create="P7D")]))
    seq = last_seq(v)
    a_later_pass(v)
    assert len(versions(kc, "rot-age")) == 1  # not due: made just now
    # eight days later (both keys' versions made then)
    backdate(v, ("UPDATE key_versions SET created = created - ?1 WHERE "
                 "name IN ('rot-age', 'no-policy')", 8))
    v = start(spawn, dev_pki, data)
    kc = v.key_client()
    ev = wait_event(v, seq, "key_new_version", "rot-age")
    vs = versions(kc, "rot-age")
    assert len(vs) == 2 and ev["version"] == vs[1].version
    a_later_pass(v)
    # the new version is a day old, not eight: once is all
    assert len(versions(kc, "rot-age")) == 2
    evs = events(v, seq)[0]
    assert len(of(evs, "key_new_version", "rot-age")) == 1
    assert of(evs, "key_new_version", "no-policy") == []
    assert len(versions(kc, "no-policy")) == 1


def test_near_expiry_is_told_once_within_the_window(spawn, dev_pki,
                                                     workdir):
    v = start(spawn, dev_pki, os.path.join(workdir, "vault-data"),
              "--near-expiry-days", "45")
    kc = v.key_client()
    now = utcnow()
    seq = last_seq(v)
    soon = kc.create_oct_key("soon", size=256,
                             expires_on=now + datetime.timedelta(days=40))
    kc.create_oct_key("later", size=256,
                      expires_on=now + datetime.timedelta(days=50))
    kc.create_oct_key("never", size=256)
    ev = wait_event(v, seq, "key_near_expiry", "soon")
    assert ev["version"] == soon.properties.version
    a_later_pass(v)
    a_later_pass(v)
    evs = events(v, seq)[0]
    assert len(of(evs, "key_near_expiry", "soon")) == 1
    assert of(evs, "key_near_expiry", "later") == []
    assert of(evs, "key_near_expiry", "never") == []
    # a new expiry date is told of again, once
    kc.update_key_properties("soon",
                             expires_on=now + datetime.timedelta(days=20))
    wait_event(v, seq, "key_near_expiry", "soon")
    a_later_pass(v)
    assert len(of(events(v, seq)[0], "key_near_expiry", "soon")) == 2


def test_a_deleted_key_is_purged_when_its_retention_ends(spawn, dev_pki,
                                                         workdir):
    """Even under purge protection: the system's purge is the one that
    may run."""
    data = os.path.join(workdir, "vault-data")
    v = start(spawn, dev_pki, data, "--retention-days", "7",
              "--purge-protection")
    kc = v.key_client()
    kc.create_oct_key("old", size=256)
    kc.create_oct_key("young", size=256)
    kc.begin_delete_key("old", **POLL).result()
    kc.begin_delete_key("young", **POLL).result()
    with pytest.raises(HttpResponseError) as e:
        kc.purge_deleted_key("old")
    assert e.value.status_code == 403
    seq = last_seq(v)
    a_later_pass(v)
    assert kc.get_deleted_key("old").name == "old"  # 7 days to go
    # "old" was deleted eight days ago, "young" six
    sql = ("UPDATE keys SET deleted_date = deleted_date - ?1, "
           "scheduled_purge = scheduled_purge - ?1 WHERE name = '{}'")
    backdate(v, (sql.format("old"), 8), (sql.format("young"), 6))
    v = start(spawn, dev_pki, data)
    kc = v.key_client()
    ev = wait_event(v, seq, "key_purged", "old")
    assert ev["detail"] == "scheduled purge"
    with pytest.raises(ResourceNotFoundError):
        kc.get_deleted_key("old")
    a_later_pass(v)
    assert kc.get_deleted_key("young").name == "young"
    assert of(events(v, seq)[0], "key_purged", "young") == []
    # the name is free again
    assert kc.create_oct_key("old", size=256).name == "old"


@pytest.mark.parametrize("args, says", [
    (("--maintenance-interval", "0"), "--maintenance-interval must be 1 "
                                      "to 86400"),
    (("--maintenance-interval", "86401"), "--maintenance-interval"),
    (("--maintenance-interval", "1s"), "--maintenance-interval"),
    (("--near-expiry-days", "0"), "--near-expiry-days must be 1 to 365"),
    (("--near-expiry-days", "366"), "--near-expiry-days"),
    (("--near-expiry-days", ""), "--near-expiry-days"),
    (("--retention-days", "6"), "--retention-days must be 7 to 90"),
])
def test_maintenance_options_out_of_range_are_refused(args, says):
    p = run_cli("vault", "serve", "--listen", "127.0.0.1:0", "--tls-cert",
                "x", "--tls-key", "y", *args, check=False)
    assert p.returncode == 2
    assert says in p.stderr


def test_help_names_the_maintenance_options():
    out = run_cli("vault", "serve", "--help").stdout
    assert "--maintenance-interval SECONDS" in out
    assert "--near-expiry-days N" in out
