"""custos vault: the command line as a client of a running vault
(`custos key ...`, `custos vault principal|role|settings|audit`)."""
import base64
import json
import os

from conftest import run_cli


def env_for(vault, token=None):
    env = dict(os.environ)
    env["CUSTOS_VAULT_URL"] = vault.url
    env["CUSTOS_VAULT_TOKEN"] = token or vault.admin_token
    env["CUSTOS_CA_FILE"] = vault.pki.ca
    return env


def test_key_lifecycle_and_wrap_unwrap_from_the_cli(vault):
    env = env_for(vault)
    out = json.loads(run_cli("key", "create", "k1", "--kty", "RSA",
                             "--size", "2048", env=env).stdout)
    assert out["key"]["kid"].startswith(vault.url + "/keys/k1/")
    names = json.loads(run_cli("key", "list", env=env).stdout)["value"]
    assert [x["kid"] for x in names] == [vault.url + "/keys/k1"]
    cek = base64.urlsafe_b64encode(b"\x05" * 32).rstrip(b"=").decode()
    wrapped = run_cli("key", "wrap", "k1", "--value", cek,
                      env=env).stdout.strip()
    assert run_cli("key", "unwrap", "k1", "--value", wrapped,
                   env=env).stdout.strip() == cek
    run_cli("key", "rotate", "k1", env=env)
    vers = json.loads(run_cli("key", "versions", "k1", env=env).stdout)
    assert len(vers["value"]) == 2
    # the old version's wrap still unwraps
    assert run_cli("key", "unwrap", "k1", "--value", wrapped,
                   "--version", out["key"]["kid"].rsplit("/", 1)[1],
                   env=env).stdout.strip() == cek
    run_cli("key", "disable", "k1", env=env)
    p = run_cli("key", "unwrap", "k1", "--value", wrapped, env=env,
                check=False)
    assert p.returncode == 1 and "403" in p.stderr
    run_cli("key", "enable", "k1", env=env)
    run_cli("key", "delete", "k1", env=env)
    run_cli("key", "recover", "k1", env=env)
    run_cli("key", "delete", "k1", env=env)
    run_cli("key", "purge", "k1", env=env)
    assert json.loads(run_cli("key", "list", env=env).stdout)["value"] == []


def test_vault_admin_from_the_cli(vault):
    env = env_for(vault)
    tok = json.loads(run_cli("vault", "principal", "put", "svc",
                             env=env).stdout)["token"]
    run_cli("key", "create", "k2", "--kty", "oct", "--size", "256", env=env)
    run_cli("vault", "role", "assign", "ra1", "--principal", "svc",
            "--role", "Key Vault Crypto Service Encryption User",
            "--scope", "/keys/k2", env=env)
    roles = json.loads(run_cli("vault", "role", "list", env=env).stdout)
    assert {"ra1", "admin"} == {r["id"] for r in roles["value"]}
    cek = base64.urlsafe_b64encode(b"\x06" * 32).rstrip(b"=").decode()
    svc = env_for(vault, tok)
    w = run_cli("key", "wrap", "k2", "--alg", "A256KW", "--value", cek,
                env=svc).stdout.strip()
    run_cli("vault", "role", "remove", "ra1", env=env)
    p = run_cli("key", "unwrap", "k2", "--alg", "A256KW", "--value", w,
                env=svc, check=False)
    assert p.returncode == 1 and "403" in p.stderr
    s = json.loads(run_cli("vault", "settings", "--retention-days", "30",
                           "--purge-protection", env=env).stdout)
    assert s["purge_protection"] is True
    assert s["recovery_level"] == "CustomizedRecoverable"
    assert json.loads(run_cli("vault", "audit", "verify",
                              env=env).stdout)["ok"] is True
    p = run_cli("vault", "audit", "verify", "--data", vault.data)
    assert "intact" in p.stdout
    recs = json.loads(run_cli("vault", "audit", "list", "--since", "0",
                              env=env).stdout)["value"]
    assert any(r["op"] == "unwrapkey" and r["result"] == "Forbidden"
               for r in recs)


def test_key_show_prints_the_latest_or_a_given_version(vault):
    env = env_for(vault)
    v1 = json.loads(run_cli("key", "create", "shown", "--kty", "oct",
                            env=env).stdout)["key"]["kid"]
    v2 = json.loads(run_cli("key", "rotate", "shown",
                            env=env).stdout)["key"]["kid"]
    assert v1 != v2
    k = json.loads(run_cli("key", "show", "shown", env=env).stdout)
    assert k["key"]["kid"] == v2
    assert k["key"]["kty"] == "oct" and "k" not in k["key"]
    assert k["attributes"]["enabled"] is True
    old = v1.rsplit("/", 1)[1]
    k = json.loads(run_cli("key", "show", "shown", "--version", old,
                           env=env).stdout)
    assert k["key"]["kid"] == v1
    # a name in another spelling is the same key
    k = json.loads(run_cli("key", "show", "SHOWN", env=env).stdout)
    assert k["key"]["kid"] == v2
    # a key or version that is not there: the vault's 404
    p = run_cli("key", "show", "nosuch", env=env, check=False)
    assert p.returncode == 1 and "404" in p.stderr
    assert "KeyNotFound" in p.stderr and p.stdout == ""
    p = run_cli("key", "show", "shown", "--version", "0" * 32, env=env,
                check=False)
    assert p.returncode == 1 and "404" in p.stderr
    # a version that is not 32 hex digits never reaches the vault as a
    # path of its own (it would name another resource)
    for bad in ("../../deletedkeys", "abc", "0" * 31 + "g", "x?y=1"):
        p = run_cli("key", "show", "shown", "--version", bad, env=env,
                    check=False)
        assert p.returncode == 2, (bad, p.stdout, p.stderr)
        assert "32 hex digits" in p.stderr and p.stdout == ""
    # a principal without a role on the key is refused
    tok = json.loads(run_cli("vault", "principal", "put", "nobody",
                             env=env).stdout)["token"]
    p = run_cli("key", "show", "shown", env=env_for(vault, tok),
                check=False)
    assert p.returncode == 1 and "403" in p.stderr
