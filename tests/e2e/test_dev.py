"""`custos dev`: the local deployment `make run` starts."""
import os
import signal
import subprocess
import time

import requests

from conftest import run_cli


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            assert line.startswith("export "), line
            k, v = line[len("export "):].split("=", 1)
            env[k] = v.strip("'")
    return env


def start_dev(spawn, workdir):
    d = os.path.join(workdir, "dev")
    p = spawn("dev", "--dir", d, "--port-base", "0", name="dev")
    envfile = os.path.join(d, "env")
    p.wait_for(lambda: os.path.exists(envfile), timeout=60,
               what="writing its env file")
    return p, d, read_env(envfile)


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def test_dev_starts_every_service_and_writes_the_env_file(spawn, workdir):
    p, d, env = start_dev(spawn, workdir)
    for var in ("CUSTOS_CA_FILE", "CUSTOS_OPERATOR_VAULT_URL",
                "CUSTOS_TENANT_VAULT_URL", "CUSTOS_TENANT_VAULT_TOKEN",
                "CUSTOS_STORE_URL", "CUSTOS_OPERATOR_TOKEN",
                "CUSTOS_STORE_PRINCIPAL", "CUSTOS_TENANT",
                "CUSTOS_TENANT_ADMIN_TOKEN", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_CA_BUNDLE",
                "AWS_DEFAULT_REGION"):
        assert var in env, (var, env)
    assert env["CUSTOS_STORE_PRINCIPAL"] == "custos-store"
    ca = env["CUSTOS_CA_FILE"]
    assert os.path.exists(ca)
    for var in ("CUSTOS_OPERATOR_VAULT_URL", "CUSTOS_TENANT_VAULT_URL",
                "CUSTOS_STORE_URL"):
        url = env[var]
        assert url.startswith("https://127.0.0.1:")
        r = requests.get(url + "/healthz", verify=ca, timeout=5)
        assert r.status_code == 200
    # the two vaults are separate processes on separate ports
    assert env["CUSTOS_OPERATOR_VAULT_URL"] != env["CUSTOS_TENANT_VAULT_URL"]
    assert len(children_of(p.proc.pid)) == 3
    # the store's client certificate exists for the tenant vault to trust
    assert os.path.exists(os.path.join(d, "pki", "client-custos-store.pem"))
    # what a person sees names the env file
    assert "export CUSTOS_CA_FILE=" in p.log()


def test_dev_tenant_vault_is_ready_for_customer_managed_keys(spawn, workdir):
    p, d, env = start_dev(spawn, workdir)
    ca = env["CUSTOS_CA_FILE"]
    url = env["CUSTOS_TENANT_VAULT_URL"]
    auth = {"Authorization": "Bearer " + env["CUSTOS_TENANT_VAULT_TOKEN"]}
    # the token is a vault administrator's
    r = requests.get(url + "/admin/v1/settings", headers=auth, verify=ca,
                     timeout=5)
    assert r.status_code == 200, r.text
    # soft delete and purge protection on, as CMK validation requires
    assert r.json()["purge_protection"] is True
    r = requests.post(url + "/keys/k1/create?api-version=7.4",
                      json={"kty": "RSA", "key_size": 2048}, headers=auth,
                      verify=ca, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["attributes"]["recoveryLevel"] == "Recoverable"
    # the store is a principal by certificate, with no role granted yet
    r = requests.get(url + "/admin/v1/role-assignments", headers=auth,
                     verify=ca, timeout=5)
    assert r.status_code == 200
    assert all(a["principal"] != "custos-store" for a in r.json()["value"])
    store = (os.path.join(d, "pki", "client-custos-store.pem"),
             os.path.join(d, "pki", "client-custos-store-key.pem"))
    r = requests.get(url + "/keys/k1?api-version=7.4", cert=store, verify=ca,
                     timeout=5)
    assert r.status_code == 403, r.text
    # a stranger without a certificate or token gets the challenge
    r = requests.get(url + "/keys/k1?api-version=7.4", verify=ca, timeout=5)
    assert r.status_code == 401


def test_dev_stops_every_process_it_started_on_sigterm(spawn, workdir):
    p, _, env = start_dev(spawn, workdir)
    kids = children_of(p.proc.pid)
    assert kids
    assert p.stop(signal.SIGTERM) == 0
    assert "custos dev: stopped" in p.log()
    for k in kids:
        assert not os.path.exists(f"/proc/{k}") or \
            open(f"/proc/{k}/stat").read().split()[2] == "Z"


def test_dev_reports_a_service_that_dies_and_stops_the_rest(spawn, workdir):
    p, _, env = start_dev(spawn, workdir)
    kids = children_of(p.proc.pid)
    os.kill(kids[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while p.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not p.alive(), "custos dev went on after a service died"
    assert p.proc.returncode == 1
    assert "stopped unexpectedly" in p.log()
    p.stop(expect_clean=False)


def test_dev_refuses_a_bad_port_base():
    r = run_cli("dev", "--port-base", "banana", check=False)
    assert r.returncode == 2
    assert "--port-base" in r.stderr


def aws(env, *args):
    e = dict(os.environ)
    e.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    e["AWS_CONFIG_FILE"] = "/dev/null"
    e["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    return subprocess.run(["/usr/bin/aws", "--endpoint-url",
                           env["CUSTOS_STORE_URL"], *args],
                          capture_output=True, text=True, env=e, timeout=120)


def test_dev_store_serves_the_demo_tenant_to_the_aws_cli(spawn, workdir):
    p, d, env = start_dev(spawn, workdir)
    # the operator token and the tenant admin token both reach the admin API
    ca = env["CUSTOS_CA_FILE"]
    r = requests.get(env["CUSTOS_STORE_URL"] + "/admin/v1/tenants/" +
                     env["CUSTOS_TENANT"], verify=ca, timeout=5,
                     headers={"Authorization":
                              "Bearer " + env["CUSTOS_OPERATOR_TOKEN"]})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "demo"
    src = os.path.join(workdir, "hello.txt")
    with open(src, "w") as f:
        f.write("hello, custos\n")
    assert aws(env, "s3", "mb", "s3://photos").returncode == 0
    c = aws(env, "s3", "cp", src, "s3://photos/hello.txt")
    assert c.returncode == 0, c.stderr
    c = aws(env, "s3", "cp", "s3://photos/hello.txt", "-")
    assert c.returncode == 0, c.stderr
    assert c.stdout == "hello, custos\n"
    # a second run with the same directory keeps the tenant and its data
    assert p.stop() == 0
    envfile = os.path.join(d, "env")
    os.unlink(envfile)
    p2 = spawn("dev", "--dir", d, "--port-base", "0", name="dev2")
    p2.wait_for(lambda: os.path.exists(envfile), timeout=60,
                what="writing its env file")
    env2 = read_env(envfile)
    assert env2["CUSTOS_TENANT"] == env["CUSTOS_TENANT"]
    c = aws(env2, "s3", "cp", "s3://photos/hello.txt", "-")
    assert c.returncode == 0, c.stderr
    assert c.stdout == "hello, custos\n"


def test_dev_store_keeps_its_system_key_in_the_operator_vault(spawn, workdir):
    p, d, env = start_dev(spawn, workdir)
    ca = env["CUSTOS_CA_FILE"]
    url = env["CUSTOS_OPERATOR_VAULT_URL"]
    with open(os.path.join(d, "operator-vault", "admin.token")) as f:
        auth = {"Authorization": "Bearer " + f.read().strip()}

    def get(path):
        r = requests.get(url + path, headers=auth, verify=ca, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    # the system key (RSA-3072) and the availability key (AES-256)
    sk = get("/keys/system-key?api-version=7.4")["key"]
    assert sk["kty"] == "RSA" and len(sk["n"]) > 500
    assert get("/keys/availability-key?api-version=7.4")["key"]["kty"] == \
        "oct"
    assert get("/admin/v1/settings")["purge_protection"] is True
    # the store is a principal by certificate with the service role on each
    roles = {(a["principal"], a["role"], a["scope"])
             for a in get("/admin/v1/role-assignments")["value"]}
    for k in ("system-key", "availability-key"):
        assert ("custos-store", "Key Vault Crypto Service Encryption User",
                f"/keys/{k}") in roles, roles
    # no key files: the store wraps the demo tenant's key in the vault
    assert not os.path.exists(os.path.join(d, "store", "system.key"))
    assert not os.path.exists(os.path.join(d, "store", "availability.key"))
    src = os.path.join(workdir, "x.txt")
    with open(src, "w") as f:
        f.write("x")
    assert aws(env, "s3", "mb", "s3://bkt").returncode == 0
    assert aws(env, "s3", "cp", src, "s3://bkt/x").returncode == 0
    audit = [a for a in get("/admin/v1/audit")["value"]
             if a["principal"] == "custos-store" and a["key"] == "system-key"]
    assert any(a["op"] == "wrapkey" and a["result"] == "ok" for a in audit)
    assert any(a["op"] == "unwrapkey" and a["result"] == "ok" for a in audit)
