#!/bin/bash
# The customer-managed-key lifecycle, end to end, as README.md walks it:
# starts its own `custos dev` in a temporary directory, prints each step
# and its outcome, and stops everything it started. `make demo` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOS=${CUSTOS:-$PWD/build/custos}
dir=$(mktemp -d /tmp/custos-demo.XXXXXX)
dev_pid=

cleanup() {
	if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
		kill -TERM "$dev_pid"
		wait "$dev_pid" || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

n=0
step() { n=$((n + 1)); printf '\n== %d. %s\n' "$n" "$*"; }
ok() { printf '   -> %s\n' "$*"; }
fail() { printf '   !! %s\n' "$*"; exit 1; }

"$CUSTOS" dev --dir "$dir/dev" --port-base 0 >"$dir/dev.out" 2>&1 &
dev_pid=$!
for _ in $(seq 1 300); do
	[ -f "$dir/dev/env" ] && break
	kill -0 "$dev_pid" 2>/dev/null || { cat "$dir/dev.out"; fail "custos dev did not start"; }
	sleep 0.1
done
[ -f "$dir/dev/env" ] || fail "custos dev did not write its env file"
# shellcheck disable=SC1091
. "$dir/dev/env"
export CUSTOS_VAULT_URL=$CUSTOS_TENANT_VAULT_URL CUSTOS_VAULT_TOKEN=$CUSTOS_TENANT_VAULT_TOKEN
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
aws() { /usr/bin/aws --endpoint-url "$CUSTOS_STORE_URL" "$@"; }
state() { "$CUSTOS" tenant encryption "$CUSTOS_TENANT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
wait_state() {
	for _ in $(seq 1 100); do
		[ "$(state)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "tenant did not reach state $1 (now $(state))"
}
kid="$CUSTOS_TENANT_VAULT_URL/keys/cmk"

step "custos dev is up: operator vault, tenant vault, store, demo tenant $CUSTOS_TENANT"
ok "store at $CUSTOS_STORE_URL, tenant vault at $CUSTOS_TENANT_VAULT_URL"

step "The tenant stores an object under system-managed keys"
aws s3 mb s3://records >/dev/null
echo "patient 42: confidential" >"$dir/record.txt"
aws s3 cp "$dir/record.txt" s3://records/42.txt >/dev/null
ok "$(aws s3api head-object --bucket records --key 42.txt --query ServerSideEncryption --output text) (state $(state))"

step "The tenant creates its customer key (RSA-3072) in its own vault"
"$CUSTOS" key create cmk --kty RSA --size 3072 >/dev/null
ok "key $kid"

step "Enabling CMK before granting the store access fails, and nothing breaks"
"$CUSTOS" tenant encryption "$CUSTOS_TENANT" --kid "$kid" >/dev/null
wait_state failed
ok "state failed, reason $("$CUSTOS" tenant encryption "$CUSTOS_TENANT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["reason"])')"
aws s3 cp s3://records/42.txt - >/dev/null && ok "the object still reads under the previous root"

step "The tenant grants principal custos-store the Crypto Service Encryption User role on the key"
"$CUSTOS" vault role assign store-cmk --principal custos-store \
	--role "Key Vault Crypto Service Encryption User" --scope /keys/cmk >/dev/null
ok "role assigned (the store is identified by its TLS client certificate: no secret exchanged)"

step "Enable customer-managed keys: pending, validated, active (the tenant key is re-wrapped, no object rewritten)"
"$CUSTOS" tenant encryption "$CUSTOS_TENANT" --kid "$kid" >/dev/null
wait_state active
ok "state active; S3 now reports $(aws s3api head-object --bucket records --key 42.txt --query '[ServerSideEncryption,SSEKMSKeyId]' --output text)"

step "The tenant rotates its key; the store picks up the new version from the vault's events"
before=$("$CUSTOS" tenant encryption "$CUSTOS_TENANT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["version_in_use"])')
"$CUSTOS" key rotate cmk >/dev/null
after=$before
for _ in $(seq 1 50); do
	after=$("$CUSTOS" tenant encryption "$CUSTOS_TENANT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["version_in_use"])')
	[ "$after" != "$before" ] && break
	sleep 0.1
done
[ "$after" != "$before" ] || fail "new key version not picked up"
ok "version in use $before -> $after"

step "The tenant revokes the store's access (removes the role)"
t0=$(date +%s.%N)
"$CUSTOS" vault role remove store-cmk >/dev/null
wait_state inaccessible
t1=$(date +%s.%N)
ok "state inaccessible after $(/usr/bin/python3 -c "print(f'{$t1 - $t0:.3f}')") s"
if out=$(aws s3 cp s3://records/42.txt - 2>&1); then fail "read allowed after revocation"; fi
ok "GET refused: $(aws s3api get-object --bucket records --key 42.txt "$dir/x" 2>&1 | grep -o 'CustomerKeyInaccessible' | head -1)"
ok "metadata still listed: $(aws s3 ls s3://records | wc -l) object(s)"

step "The tenant restores access; the store returns to active by itself"
"$CUSTOS" vault role assign store-cmk --principal custos-store \
	--role "Key Vault Crypto Service Encryption User" --scope /keys/cmk >/dev/null
wait_state active
ok "read back: $(aws s3 cp s3://records/42.txt -)"

step "The tenant asks for a purge (crypto-shred), then cancels within the grace period"
"$CUSTOS" tenant purge "$CUSTOS_TENANT" >/dev/null
ok "state $(state)"
"$CUSTOS" tenant purge "$CUSTOS_TENANT" --cancel >/dev/null
wait_state active
ok "cancelled: state active, data intact"

step "The tenant's security events"
"$CUSTOS" tenant events "$CUSTOS_TENANT" | /usr/bin/python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    d = e.get("detail", {})
    print("   ", e["seq"], e["type"], d.get("state", ""), d.get("reason", ""))'

printf '\ndemo: %d steps passed, 0 failed\n' "$n"
