#!/bin/sh
# Install the Debian packages custos needs to build, test and benchmark.
# Idempotent: does nothing (no apt-get at all) when every package is present.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev clang-format
libssl-dev openssl libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libsqlite3-dev
libpq-dev libjansson-dev libexpat1-dev zlib1g-dev libcmocka-dev
python3 python3-pytest python3-requests python3-boto3 python3-azure
awscli s3cmd rclone softhsm2 p11-kit nginx-light wrk valgrind
postgresql procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all $(echo $PKGS | wc -w) packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
echo "install-deps: done"
