# shellcheck shell=bash
# Reaching the gateway of a release from this machine: its TLS Secret, API keys kept in the
# state dir, *.<domain> on this machine after the chart, and the e2b SDK's environment (cluster env).

# The TLS Secret of the local release: a certificate for *.<domain> from the gateway CA, issued
# again when missing, not from this CA or expiring within 30 days.
gateway_tls_secret() { # namespace secret domain
  local dir=$STATE/gateway/tls-$3
  if ! { [ -s "$dir/tls.crt" ] && openssl verify -CAfile "$GATEWAY_CA_CRT" "$dir/tls.crt" >/dev/null 2>&1 &&
    openssl x509 -in "$dir/tls.crt" -noout -checkend 2592000 >/dev/null 2>&1; }; then
    issue_gateway_cert "$3" "$dir"
  fi
  kctl get namespace "$1" >/dev/null 2>&1 || kctl create namespace "$1" >/dev/null
  kctl -n "$1" create secret tls "$2" --cert "$dir/tls.crt" --key "$dir/tls.key" --dry-run=client -o yaml |
    kctl apply -f - >/dev/null || die "could not write the TLS Secret $1/$2"
}

# ensure_api_key <namespace> <release> <team> [keys secret]: prints the saved API key of the team
# for that release, made once with `gateway keys create` (plaintext kept 0600 in the state dir).
ensure_api_key() {
  local ns=$1 release=$2 team=$3 secret=${4:-} f key out node name=local
  f=$STATE/gateway/keys/$ns.$release.$team.key
  if [ -s "$f" ]; then cat "$f"; return 0; fi
  [ "$team" = default ] || name=local-$team
  node=$(kit_node)
  [ -f "$REPO/dist/gateway.mjs" ] || die "no dist/gateway.mjs to make an API key with: run npm run build"
  local args=(keys create --team "$team" --name "$name" --namespace "$ns")
  [ -z "$secret" ] || [ "$secret" = soulbox-gateway-api-keys ] || args+=(--api-keys-secret "$secret")
  out=$(KUBECONFIG="$STATE/kubeconfig" "$node" "$REPO/dist/gateway.mjs" "${args[@]}" 2>&1) ||
    die "gateway ${args[*]} failed: $out"
  key=$(grep -o 'e2b_[0-9a-f]\{40\}' <<<"$out" | head -n1)
  [ -n "$key" ] || die "gateway ${args[*]} printed no key: $out"
  mkdir -p "$(dirname "$f")"
  (umask 077 && printf '%s\n' "$key" > "$f.tmp")
  mv "$f.tmp" "$f"
  echo "$key"
}

# The gateway Deployment of a release (the chart labels it component=gateway); empty when none.
gateway_deployment() { # namespace release
  kctl -n "$1" get deployment -l "app.kubernetes.io/instance=$2,app.kubernetes.io/component=gateway" \
    -o 'jsonpath={.items[0].metadata.name}' 2>/dev/null || true
}
# The value after a flag in the gateway container's arguments.
gateway_arg() { # namespace deployment flag
  kctl -n "$1" get deployment "$2" -o 'jsonpath={range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}' |
    awk -v f="$3" 'prev == f {print; exit} {prev = $0}'
}

# After the chart: *.soulbox.test resolves to the gateway Service, and team default has a key.
gateway_local_access() {
  local deploy ip
  deploy=$(gateway_deployment "$SOULBOX_NAMESPACE" "$SOULBOX_RELEASE")
  [ -n "$deploy" ] || die "the chart installed no gateway Deployment in $SOULBOX_NAMESPACE"
  ip=$(kctl -n "$SOULBOX_NAMESPACE" get service "$deploy" -o 'jsonpath={.spec.clusterIP}')
  (dns_add "$SOULBOX_DOMAIN" "$ip") ||
    say "carrying on without *.$SOULBOX_DOMAIN on this machine (e2e/cluster/env will say so)"
  ensure_api_key "$SOULBOX_NAMESPACE" "$SOULBOX_RELEASE" default >/dev/null
}

cmd_env() {
  local ns=$SOULBOX_NAMESPACE release=$SOULBOX_RELEASE team=default
  while [ $# -gt 0 ]; do
    case $1 in
      --namespace) ns=${2:-}; shift 2 || die "--namespace needs a value" ;;
      --release) release=${2:-}; shift 2 || die "--release needs a value" ;;
      --team) team=${2:-}; shift 2 || die "--team needs a value" ;;
      *) die "unknown option '$1' (env takes --namespace NS, --release R, --team T)" ;;
    esac
  done
  { [ -n "$ns" ] && [ -n "$release" ] && [ -n "$team" ]; } || die "env: --namespace, --release and --team need values"
  [ -f "$STATE/kubeconfig" ] || die "no cluster in $STATE: run e2e/cluster/up first"
  kctl get --raw /readyz >/dev/null 2>&1 || die "the cluster's API server ($STATE) does not answer: run e2e/cluster/up"
  local deploy; deploy=$(gateway_deployment "$ns" "$release")
  [ -n "$deploy" ] || die "the gateway is not installed: release $release has no gateway Deployment in namespace $ns (e2e/cluster/up installs it)"
  local ready want
  ready=$(kctl -n "$ns" get deployment "$deploy" -o 'jsonpath={.status.readyReplicas}')
  want=$(kctl -n "$ns" get deployment "$deploy" -o 'jsonpath={.spec.replicas}')
  [ "${ready:-0}" -ge 1 ] || die "the gateway $ns/$deploy is not ready (0 of ${want:-?} replicas ready): kubectl -n $ns get pods -l app.kubernetes.io/component=gateway"
  local domain https secret ip
  domain=$(gateway_arg "$ns" "$deploy" --domain)
  domain=${domain:-$SOULBOX_DOMAIN}
  https=$(gateway_arg "$ns" "$deploy" --https-port)
  { [ -n "$https" ] && [ "$https" != 0 ]; } || die "the gateway $ns/$deploy serves no HTTPS (no gateway.tls in the release): the SDK's URLs need it"
  secret=$(gateway_arg "$ns" "$deploy" --api-keys-secret)
  ip=$(kctl -n "$ns" get service "$deploy" -o 'jsonpath={.spec.clusterIP}' 2>/dev/null) || true
  [ -n "$ip" ] || die "the gateway $ns/$deploy has no Service"
  # Another release's `dns add|remove` restarts the cluster's dnsmasq (test files run in
  # parallel): a name fails to resolve for that moment, so ask again for up to 20 s.
  local tries=0
  until getent ahosts "api.$domain" 2>/dev/null | awk '{print $1}' | grep -qxF "$ip"; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] ||
      die "api.$domain does not resolve to the gateway Service ($ip) on this machine: run (as root) $HERE/cluster dns add $domain $ip"
    sleep 0.2
  done
  [ -s "$GATEWAY_CA_CRT" ] || die "no gateway CA at $GATEWAY_CA_CRT: run e2e/cluster/up"
  local key; key=$(ensure_api_key "$ns" "$release" "$team" "$secret")
  printf 'export E2B_API_URL=https://api.%s\n' "$domain"
  # No E2B_SANDBOX_URL: with it the SDK sends envd traffic to sandbox.<domain> routed by headers,
  # and the URLs it hands out (downloadUrl, uploadUrl) would carry no sandbox id (see ./env).
  printf 'export E2B_API_KEY=%s\n' "$key"
  printf 'export E2B_DOMAIN=%s\n' "$domain"
  printf 'export NODE_EXTRA_CA_CERTS=%s\n' "$GATEWAY_CA_CRT"
}
