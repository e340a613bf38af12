# shellcheck shell=bash
# Names on this machine (cluster dns add|remove): a dnsmasq of the cluster's own on its bridge
# address, put first in /etc/resolv.conf (one cluster at a time), and given back at down.

RESOLV_CONF=/etc/resolv.conf
# The line above ours in /etc/resolv.conf names the cluster (state dir) that owns it.
DNS_MARK="# soulbox-cluster-dns"

valid_ip() { python3 -c 'import ipaddress, sys; ipaddress.ip_address(sys.argv[1])' "$1" 2>/dev/null; }

# The pid of this cluster's dnsmasq (or of the cluster in state dir $1), when it runs.
dnsmasq_pid() {
  local pid; pid=$(cat "${1:-$STATE}/dns/dnsmasq.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dnsmasq ] && echo "$pid"
}
resolv_owner() { awk -v m="$DNS_MARK " 'index($0, m) == 1 {print substr($0, length(m) + 1); exit}' "$RESOLV_CONF"; }
# /etc/resolv.conf without an owner's two lines (the mark and the nameserver after it).
resolv_unmarked() { awk -v m="$DNS_MARK " 'skip {skip = 0; next} index($0, m) == 1 {skip = 1; next} {print}' "$RESOLV_CONF"; }

# Dies when another cluster's running dnsmasq owns /etc/resolv.conf: both would answer for their
# domains through one file, and one `down` would take the other's names away.
dns_check_owner() {
  local owner; owner=$(resolv_owner)
  [ -z "$owner" ] || [ "$owner" = "$STATE" ] && return 0
  dnsmasq_pid "$owner" >/dev/null &&
    die "/etc/resolv.conf belongs to the DNS of the cluster in $owner (its dnsmasq runs): remove its names first (SOULBOX_CLUSTER_DIR=$owner $0 dns remove <domain>, or its down)"
  return 0
}

stop_dnsmasq() {
  local pid; pid=$(dnsmasq_pid) || { rm -f "$STATE/dns/dnsmasq.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$STATE/dns/dnsmasq.pid"
}

# Puts `nameserver <bridge address>` first in /etc/resolv.conf (written in place: it may be a
# bind mount), saving the original byte for byte. A mark left by a cluster that is gone is taken over.
claim_resolv_conf() {
  local owner; owner=$(resolv_owner)
  if [ "$owner" = "$STATE" ] && [ -f "$STATE/dns/resolv.conf.orig" ]; then return 0; fi
  if [ -n "$owner" ]; then
    say "taking /etc/resolv.conf over from the cluster in $owner, whose dnsmasq is gone"
    resolv_unmarked > "$STATE/dns/resolv.conf.orig"
  else
    cp "$RESOLV_CONF" "$STATE/dns/resolv.conf.orig"
  fi
  { printf '%s %s\nnameserver %s\n' "$DNS_MARK" "$STATE" "$NODE_IP"; cat "$STATE/dns/resolv.conf.orig"; } > "$STATE/dns/resolv.conf.new"
  cat "$STATE/dns/resolv.conf.new" > "$RESOLV_CONF"
  rm -f "$STATE/dns/resolv.conf.new"
}

# Gives /etc/resolv.conf back: exactly the saved original when nobody else changed it since,
# else the current file without our two lines.
restore_resolv_conf() {
  local orig=$STATE/dns/resolv.conf.orig
  [ -f "$orig" ] || return 0
  if [ "$(resolv_owner)" = "$STATE" ]; then
    net_ids
    if { printf '%s %s\nnameserver %s\n' "$DNS_MARK" "$STATE" "$NODE_IP"; cat "$orig"; } | cmp -s - "$RESOLV_CONF"; then
      cat "$orig" > "$RESOLV_CONF"
    else
      say "/etc/resolv.conf changed while this cluster's DNS was in it: removing only the cluster's lines"
      resolv_unmarked > "$STATE/dns/resolv.conf.new"
      cat "$STATE/dns/resolv.conf.new" > "$RESOLV_CONF"
      rm -f "$STATE/dns/resolv.conf.new"
    fi
  fi
  rm -f "$orig"
}

# (Re)starts dnsmasq for the domains in $STATE/dns/domains, on the bridge address, forwarding the
# rest to the original nameservers; with no domains left, stops it and gives resolv.conf back.
apply_dns() {
  net_ids
  stop_dnsmasq
  if [ ! -s "$STATE/dns/domains" ]; then restore_resolv_conf; return 0; fi
  claim_resolv_conf
  {
    printf '%s\n' "listen-address=$NODE_IP" bind-interfaces port=53 no-resolv no-hosts no-poll strict-order \
      "pid-file=$STATE/dns/dnsmasq.pid" "log-facility=$STATE/logs/dnsmasq.log"
    awk -v self="$NODE_IP" '$1 == "nameserver" && $2 != self {print "server=" $2}' "$STATE/dns/resolv.conf.orig"
    awk '{print "address=/" $1 "/" $2}' "$STATE/dns/domains"
  } > "$STATE/dns/dnsmasq.conf"
  local out
  out=$(dnsmasq --conf-file="$STATE/dns/dnsmasq.conf" 2>&1) || {
    restore_resolv_conf
    die "dnsmasq did not start: $out"
  }
}

dns_add() {
  [ $# -eq 2 ] || die "usage: cluster dns add <domain> <ip>"
  local domain=$1 ip=$2
  valid_domain "$domain" || die "dns add: '$domain' is not a domain name: give a lower-case name of two labels or more, like soulbox.test"
  valid_ip "$ip" || die "dns add: '$ip' is not an IP address"
  [ "$(id -u)" = 0 ] || die "dns add needs root: it runs dnsmasq on port 53 and edits /etc/resolv.conf"
  dns_check_owner
  ensure_debs dnsmasq-base
  mkdir -p "$STATE/dns" "$STATE/logs"
  # dnsmasq listens on the cluster bridge's address (made here when the cluster has none yet).
  assign_net
  ensure_bridge
  { awk -v d="$domain" '$1 != d' "$STATE/dns/domains" 2>/dev/null || true; echo "$domain $ip"; } > "$STATE/dns/domains.new"
  mv "$STATE/dns/domains.new" "$STATE/dns/domains"
  apply_dns
  say "$domain and every name under it resolve to $ip (dnsmasq on $NODE_IP:53)"
}

dns_remove() {
  [ $# -eq 1 ] || die "usage: cluster dns remove <domain>"
  local domain=$1
  valid_domain "$domain" || die "dns remove: '$domain' is not a domain name"
  grep -q "^$domain " "$STATE/dns/domains" 2>/dev/null || die "dns remove: $domain is not in this cluster's DNS ($STATE/dns/domains)"
  [ "$(id -u)" = 0 ] || die "dns remove needs root: it restarts dnsmasq and edits /etc/resolv.conf"
  awk -v d="$domain" '$1 != d' "$STATE/dns/domains" > "$STATE/dns/domains.new"
  mv "$STATE/dns/domains.new" "$STATE/dns/domains"
  apply_dns
  say "$domain no longer resolves through this cluster"
}

cmd_dns() {
  local sub=${1:-}; shift || true
  mkdir -p "$STATE"
  # Test files add and remove names at the same time: one change (config + restart) at a time.
  exec 9>"$STATE/dns.lock"
  flock 9
  case $sub in
    add) dns_add "$@" ;;
    remove) dns_remove "$@" ;;
    *) die "usage: cluster dns add <domain> <ip> | cluster dns remove <domain>" ;;
  esac
}

# At down: this cluster's dnsmasq stops and /etc/resolv.conf is as it was.
dns_down() {
  [ -d "$STATE/dns" ] || return 0
  stop_dnsmasq
  restore_resolv_conf
}
