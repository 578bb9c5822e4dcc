"""The command line itself: help, version and usage errors."""
from conftest import run_cli


def test_version_names_the_release_and_libraries():
    p = run_cli("version")
    assert p.stdout.startswith("custos ")
    assert "OpenSSL 3" in p.stdout
    assert "libmicrohttpd" in p.stdout


def test_help_lists_commands():
    p = run_cli("--help")
    assert "usage: custos" in p.stdout
    assert "version" in p.stdout


def test_unknown_command_is_a_usage_error_that_says_what_to_do():
    p = run_cli("no-such-command", check=False)
    assert p.returncode == 2
    assert "unknown command 'no-such-command'" in p.stderr
    assert "custos --help" in p.stderr


def test_every_command_answers_help():
    top = run_cli("--help").stdout
    names = [line.split()[0] for line in top.splitlines()
             if line.startswith("  ") and line.split()]
    assert names, top
    for name in names:
        p = run_cli(name, "--help")
        assert "usage:" in p.stdout, (name, p.stdout)
