#!/usr/bin/env bash
# Installs the Debian packages the service and its tests need, if they are missing.
# Idempotent; a no-op on a machine that has them.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v jq >/dev/null || need+=(jq)
command -v pgrep >/dev/null || need+=(procps)
command -v runuser >/dev/null || need+=(util-linux)
# The deployment tests check the systemd units with `systemd-analyze verify`.
command -v systemd-analyze >/dev/null || need+=(systemd)
# The security review tests turn ssl on with a self-signed certificate.
command -v openssl >/dev/null || need+=(openssl)
# localedef sources: tests build de_DE.UTF-8 and ru_RU.UTF-8 for clusters that log in German and
# Russian (testing/locales.py); the postgresql package brings the catalogs log analysis reads.
[ -d /usr/share/i18n/locales ] || need+=(locales)
# pgBadger: the workload report is compared with its JSON output (and bench/log_analysis.py).
command -v pgbadger >/dev/null || need+=(pgbadger)
# promtool and prometheus check the alert rules and scrape the service in the metrics tests.
command -v promtool >/dev/null || need+=(prometheus)
if [ "${REVIEWER_BROWSER_TESTS:-1}" = "1" ]; then
  command -v chromium >/dev/null || need+=(chromium)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
