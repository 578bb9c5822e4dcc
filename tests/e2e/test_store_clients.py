"""custos store with Debian's s3cmd and rclone."""
import os
import subprocess

import pytest

BIG = 20 * 1024 * 1024  # multipart for both clients


def run(args, env=None):
    p = subprocess.run(args, capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, f"{args}\n{p.stdout}\n{p.stderr}"
    return p.stdout + p.stderr


@pytest.fixture
def tenant(store):
    return store.tenant("acme")


@pytest.fixture
def big(workdir):
    path = os.path.join(workdir, "big.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(BIG))
    return path


def test_s3cmd_round_trip(store, tenant, workdir, big):
    host = store.url.replace("https://", "")
    cfg = os.path.join(workdir, "s3cfg")
    with open(cfg, "w") as f:
        f.write(f"""[default]
access_key = {tenant['access_key_id']}
secret_key = {tenant['secret_access_key']}
host_base = {host}
host_bucket = {host}
use_https = True
ca_certs_file = {store.pki.ca}
check_ssl_certificate = True
signature_v2 = False
bucket_location = us-east-1
""")

    def s3cmd(*a):
        return run(["/usr/bin/s3cmd", "-c", cfg, *a])

    s3cmd("mb", "s3://s3cmd-bucket")
    s3cmd("put", big, "s3://s3cmd-bucket/big.bin")
    assert str(BIG) in s3cmd("ls", "s3://s3cmd-bucket")
    out = os.path.join(workdir, "got.bin")
    s3cmd("get", "--force", "s3://s3cmd-bucket/big.bin", out)
    with open(big, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()
    assert "AES256" in s3cmd("info", "s3://s3cmd-bucket/big.bin")
    s3cmd("del", "s3://s3cmd-bucket/big.bin")
    s3cmd("rb", "s3://s3cmd-bucket")


def test_rclone_round_trip(store, tenant, workdir, big):
    cfg = os.path.join(workdir, "rclone.conf")
    with open(cfg, "w") as f:
        f.write(f"""[c]
type = s3
provider = Other
access_key_id = {tenant['access_key_id']}
secret_access_key = {tenant['secret_access_key']}
endpoint = {store.url}
region = us-east-1
force_path_style = true
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

    def rclone(*a):
        return run(["/usr/bin/rclone", "--config", cfg, "--ca-cert",
                    store.pki.ca, *a], env=env)

    rclone("mkdir", "c:rclone-bucket")
    rclone("copy", big, "c:rclone-bucket/dir")
    assert f"{BIG} dir/big.bin" in rclone("ls", "c:rclone-bucket")
    out = os.path.join(workdir, "r")
    rclone("copy", "c:rclone-bucket/dir/big.bin", out)
    with open(big, "rb") as a, open(os.path.join(out, "big.bin"), "rb") as b:
        assert a.read() == b.read()
    assert "0 differences found" in rclone("check", big.rsplit("/", 1)[0],
                                           "c:rclone-bucket/dir",
                                           "--one-way", "--include",
                                           "/big.bin")
    rclone("purge", "c:rclone-bucket")
