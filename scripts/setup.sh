#!/usr/bin/env bash
# npm run setup: idempotent. Dependencies, .env, a MariaDB and a Redis that answer, the database and the
# app's least-privilege account, the build, the migrations.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/setup-lib.sh
source scripts/lib/setup-lib.sh

ensure_mariadb() {
  local host=$1 port=$2
  if answers "$host" "$port"; then echo "MariaDB answers on $host:$port"; return; fi
  is_local "$host" || fail "MySQL at $host:$port does not answer; start it, or point DATABASE_URL elsewhere"
  [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  is_root || fail "MariaDB is not running. Run: sudo service mariadb start"
  echo "starting MariaDB"
  if has_systemd; then
    systemctl start mariadb
  else
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --port="$port"
  fi
  wait_until_answers "$host" "$port" || fail "MariaDB did not start; see its log under /var/log/mysql or journalctl -u mariadb"
}

ensure_redis() {
  local host=$1 port=$2
  if answers "$host" "$port"; then echo "Redis answers on $host:$port"; return; fi
  is_local "$host" || fail "Redis at $host:$port does not answer; start it, or point REDIS_URL elsewhere"
  command -v redis-server >/dev/null || apt_install redis-server
  is_root || fail "Redis is not running. Run: sudo service redis-server start"
  echo "starting Redis (append-only persistence on, so a restart logs nobody out)"
  if has_systemd; then
    systemctl start redis-server
    wait_until_answers "$host" "$port" || fail "Redis did not start; see journalctl -u redis-server"
    redis-cli -h "$host" -p "$port" config set appendonly yes >/dev/null
    redis-cli -h "$host" -p "$port" config set appendfsync everysec >/dev/null
  else
    install -d /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --dir /var/lib/redis \
      --appendonly yes --appendfsync everysec --logfile /var/log/redis/redis-server.log
    wait_until_answers "$host" "$port" || fail "Redis did not start; see /var/log/redis/redis-server.log"
  fi
}

step "Dependencies"
npm install --no-audit --no-fund

step "Configuration (.env)"
npx tsx scripts/write-env.ts
database_url=$(setting DATABASE_URL mysql://login_page@127.0.0.1:3306/login_page)
redis_url=$(setting REDIS_URL redis://127.0.0.1:6379/0)

step "MariaDB"
database_host=$(url_host "$database_url" DATABASE_URL)
ensure_mariadb "$database_host" "$(url_port "$database_url" 3306)"

step "Redis"
redis_host=$(url_host "$redis_url" REDIS_URL)
ensure_redis "$redis_host" "$(url_port "$redis_url" 6379)"

step "Redis Cluster tooling for the cluster tests"
if command -v redis-cli >/dev/null; then
  echo "redis-cli is installed"
elif is_root; then
  apt_install redis-tools
else
  echo "no redis-cli: the Redis Cluster tests will be skipped (sudo apt-get install -y redis-tools to run them)"
fi

step "nginx for the reverse-proxy test"
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  echo "nginx is installed"
elif is_root; then
  apt_install nginx
  stop_system_nginx
else
  echo "no nginx: the reverse-proxy test will be skipped (sudo apt-get install -y nginx to run it)"
fi

step "Browser for the end-to-end tests"
if [ -x /usr/bin/chromium ]; then
  echo "chromium is installed"
elif is_root; then
  apt_install chromium
else
  echo "no chromium: the browser tests will be skipped (sudo apt-get install -y chromium to run them)"
fi

step "Korean font for the browser tests' screenshots"
if dpkg -s fonts-nanum >/dev/null 2>&1; then
  echo "fonts-nanum is installed"
elif is_root; then
  apt_install fonts-nanum
else
  echo "no Korean font: screenshots show boxes for Hangul (sudo apt-get install -y fonts-nanum)"
fi

step "Database and account"
npx tsx scripts/provision-db.ts

step "Build"
npm run build --silent

step "Migrations"
npm run db:migrate --silent

step "Done. Start the site with: npm start"
