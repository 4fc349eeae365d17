# Helpers of scripts/setup.sh (sourced; also by test/setup.test.ts).

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'setup: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
has_systemd() { [ -d /run/systemd/system ]; }
# Host and port go in as arguments, never into the command text.
answers() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' answers "$1" "$2" 2>/dev/null; }
wait_until_answers() {
  for _ in $(seq 1 60); do answers "$1" "$2" && return 0; sleep 0.5; done
  return 1
}
is_local() { case "$1" in 127.0.0.1|localhost|::1) return 0 ;; *) return 1 ;; esac; }

# The effective value of a variable: the environment wins over .env, .env over the default.
setting() {
  node -e "require('dotenv').config({ quiet: true }); process.stdout.write(process.env[process.argv[1]] || process.argv[2])" "$1" "$2"
}
# A host name or an IP address, nothing else: setup passes the value to commands.
url_host() {
  node -e "const h = new URL(process.argv[1]).hostname.replace(/^\[|\]$/g, ''); if (!/^[A-Za-z0-9.-]+$|^[0-9A-Fa-f:.]+$/.test(h)) process.exit(1); process.stdout.write(h)" "$1" \
    || fail "the host in $2 is not a host name or an IP address"
}
url_port() { node -e "process.stdout.write(new URL(process.argv[1]).port || process.argv[2])" "$1" "$2"; }

apt_install() {
  is_root || fail "$* is not installed. Run: sudo apt-get update && sudo apt-get install -y $*  (then npm run setup again)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}

# The test starts an nginx of its own on a free port; the package's service would only hold port 80.
stop_system_nginx() {
  if has_systemd; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  else
    service nginx stop >/dev/null 2>&1 || true
    update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
}
