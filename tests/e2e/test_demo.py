"""`make demo`: the README's customer-managed-key walkthrough as a script."""
import os
import subprocess

from conftest import CUSTOS_BIN

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_the_demo_walks_the_whole_lifecycle():
    env = dict(os.environ, CUSTOS=CUSTOS_BIN)
    p = subprocess.run([os.path.join(ROOT, "scripts", "demo.sh")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "demo: 11 steps passed, 0 failed" in p.stdout
    assert "GET refused: CustomerKeyInaccessible" in p.stdout
    assert "read back: patient 42: confidential" in p.stdout
