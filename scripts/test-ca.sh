#!/usr/bin/env bash
# Makes a throw-away certificate authority for TLS tests in DIR: ca.pem (+ ca.key), a server certificate for
# the host name `localhost` only (server.pem, server.key), a client certificate (client.pem, client.key), and an
# unrelated CA (other-ca.pem) that must not be trusted. EC P-256 keys, valid for one day.
#   usage: test-ca.sh DIR
set -euo pipefail
dir=${1:?usage: test-ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 1 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
signed() {  # name, subject CN, extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 1 \
    -extfile <(printf '%s\n' "$3") 2>/dev/null
  rm "$1.csr"
}
ca ca "mgmt test CA"
ca other-ca "an unrelated CA"
signed server localhost "subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth"
signed client mgmt-test-client "extendedKeyUsage=clientAuth"
# The servers run as other users (postgres): certificates readable, keys private (each server copies its own).
chmod 0755 .
chmod 0644 ./*.pem
chmod 0600 ./*.key
