# shellcheck shell=bash
# Certificates and kubeconfigs: the cluster's CA and the certificates of its components (issue,
# make_pki, the node's), the kubeconfigs (one template), and the gateway's own CA and wildcard
# certificates (cluster cert).

issue() { # name subject [san]
  local name=$1 subj=$2 san=${3:-}
  openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  local ext="basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth"
  [ -n "$san" ] && ext="$ext\nsubjectAltName=$san"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out "$name.crt" -extfile <(printf "%b" "$ext") 2>/dev/null
  rm -f "$name.csr"
}

make_pki() {
  [ -f "$STATE/pki/admin.crt" ] && return 0
  net_ids
  mkdir -p "$STATE/pki" && (
    cd "$STATE/pki"
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=soulbox-local-ca" 2>/dev/null
    issue apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:$NODE_IP,IP:$API_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    issue admin "/O=system:masters/CN=soulbox-admin"
    issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

# The API server's EncryptionConfiguration (pki/encryption-config.yaml, made once): Secrets are
# stored in etcd encrypted with AES-GCM under a random 32-byte key of this cluster's own, so a
# sandbox's env values are ciphertext at rest. identity comes last so Secrets written before the
# file existed (an older state dir) stay readable; they are encrypted when next written.
encryption_config() {
  local out=$STATE/pki/encryption-config.yaml
  [ -f "$out" ] && return 0
  local key; key=$(head -c 32 /dev/urandom | base64 -w0)
  (umask 077 && cat > "$out.tmp" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm:
          keys:
            - name: key1
              secret: $key
      - identity: {}
YAML
  )
  mv "$out.tmp" "$out"
}

b64() { base64 -w0 < "$1"; }

# kubeconfig <out> <server> <user> <context> embed|paths <ca.crt> <client.crt> <client.key>: a
# kubeconfig (templates/kubeconfig.tmpl) for the cluster soulbox-local at <server>, as <user>;
# embed puts the three files in it (the *-data fields, base64), paths names them.
# shellcheck disable=SC2034 # the upper-case locals are read by render_template, by name
kubeconfig() {
  local out=$1 SERVER=$2 USER_NAME=$3 CONTEXT=$4 DATA='' CA=$6 CERT=$7 KEY=$8
  if [ "$5" = embed ]; then
    DATA=-data
    # (As the files' contents in a here-document were: empty when one cannot be read.)
    CA=$(b64 "$6") || true
    CERT=$(b64 "$7") || true
    KEY=$(b64 "$8") || true
  fi
  render_template kubeconfig.tmpl "$out" SERVER DATA CA USER_NAME CERT KEY CONTEXT
}

# The admin's kubeconfig ($STATE/kubeconfig, what `up` prints), the API server on port $1.
write_kubeconfig() {
  local port=$1
  kubeconfig "$STATE/kubeconfig" "https://$(api_addr):$port" soulbox-admin soulbox-local embed \
    "$STATE/pki/ca.crt" "$STATE/pki/admin.crt" "$STATE/pki/admin.key"
}

# The node's certificates, issued once: the kubelet's client (node.crt) and serving certificates,
# and kube-proxy's client certificate.
node_certs() {
  local pki=$STATE/pki
  net_ids
  [ -f "$pki/node.crt" ] || (cd "$pki" &&
    issue node "/O=system:nodes/CN=system:node:$NODE_NAME" &&
    issue kubelet-serving "/CN=$NODE_NAME" "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost")
}
kube_proxy_cert() {
  local pki=$STATE/pki
  [ -f "$pki/kube-proxy.crt" ] || (cd "$pki" && issue kube-proxy "/CN=system:kube-proxy")
}

# The gateway's CA is its own (not the cluster's, which also signs system:masters client
# certificates): trusting it through NODE_EXTRA_CA_CERTS trusts gateway certificates only.
#
# Every up: the gateway's CA exists (EC P-256, ten years), named after the state dir so that two
# clusters' CAs never share a subject.
ensure_gateway_ca() {
  [ -s "$GATEWAY_CA_CRT" ] && [ -s "$GATEWAY_CA_KEY" ] && return 0
  mkdir -p "$STATE/pki"
  local h; h=$(printf %s "$STATE" | sha256sum | cut -c1-8)
  (
    umask 077
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -keyout "$GATEWAY_CA_KEY.tmp" -out "$GATEWAY_CA_CRT.tmp" -subj "/CN=SoulBox local gateway CA $h" \
      -addext basicConstraints=critical,CA:TRUE,pathlen:0 -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
  ) || { rm -f "$GATEWAY_CA_KEY.tmp" "$GATEWAY_CA_CRT.tmp"; die "openssl could not make the gateway CA in $STATE/pki"; }
  chmod 0644 "$GATEWAY_CA_CRT.tmp"
  mv "$GATEWAY_CA_KEY.tmp" "$GATEWAY_CA_KEY"
  mv "$GATEWAY_CA_CRT.tmp" "$GATEWAY_CA_CRT"
}

# issue_gateway_cert <domain> <out-dir>: tls.crt (0644) and tls.key (0600) for *.<domain> and
# <domain>, signed by the gateway CA, valid for a year.
issue_gateway_cert() {
  local domain=$1 out=$2 work
  mkdir -p "$out" || die "cannot create the directory $out"
  work=$(mktemp -d)
  (
    set -e
    umask 077
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=*.$domain" \
      -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=DNS:*.$domain,DNS:$domain" \
      "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > "$work/ext"
    openssl x509 -req -in "$work/tls.csr" -CA "$GATEWAY_CA_CRT" -CAkey "$GATEWAY_CA_KEY" \
      -set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$work/ext" -out "$work/tls.crt" 2>/dev/null
  ) || { rm -rf "$work"; die "openssl could not issue a certificate for *.$domain"; }
  install -m 0600 "$work/tls.key" "$out/tls.key"
  install -m 0644 "$work/tls.crt" "$out/tls.crt"
  rm -rf "$work"
}

cmd_cert() {
  [ $# -eq 2 ] || die "usage: cluster cert <domain> <out-dir>"
  valid_domain "$1" || die "cert: '$1' is not a domain name: give a lower-case name of two labels or more, like soulbox.test"
  ensure_gateway_ca
  issue_gateway_cert "$1" "$2"
  say "wrote $2/tls.crt and $2/tls.key for *.$1 and $1 (CA: $GATEWAY_CA_CRT)"
}
