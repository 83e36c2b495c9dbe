#!/usr/bin/env bash
# Installs what the tests need from Debian's packages: headless Chromium (for the
# end-to-end tests) and Mesa's lavapipe Vulkan driver from bookworm-backports
# (Mesa >= 25; bookworm's own Mesa is too old for Dawn). Idempotent: a second run
# installs nothing. Where it cannot install (not Debian, not root), it says exactly
# what is missing; the tests then skip what needs it and say why.
set -u

missing=()
have_chromium() { [ -x /usr/bin/chromium ]; }
have_lavapipe() {
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null) || return 1
  dpkg --compare-versions "$v" ge 25 2>/dev/null
}

if have_chromium && have_lavapipe; then
  echo "setup-test-env: chromium and lavapipe (mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)) already installed"
  exit 0
fi

is_debian=0
[ -r /etc/debian_version ] && command -v apt-get >/dev/null && is_debian=1
is_root=0
[ "$(id -u)" = 0 ] && is_root=1

if [ $is_debian = 1 ] && [ $is_root = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  if ! have_lavapipe; then
    bp=/etc/apt/sources.list.d/homecoder-backports.list
    if [ ! -f "$bp" ] && ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deb http://deb.debian.org/debian ${codename}-backports main" > "$bp"
    fi
  fi
  apt-get update -qq || echo "setup-test-env: apt-get update failed; trying with the lists we have"
  if ! have_chromium; then
    apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null \
      || echo "setup-test-env: could not install chromium"
  fi
  if ! command -v zip >/dev/null; then
    apt-get install -y -qq --no-install-recommends zip >/dev/null || echo "setup-test-env: could not install zip"
  fi
  if ! have_lavapipe; then
    apt-get install -y -qq --no-install-recommends -t "${codename}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null \
      || echo "setup-test-env: could not install mesa-vulkan-drivers from ${codename}-backports"
  fi
fi

have_chromium || missing+=("chromium (Debian package 'chromium', at /usr/bin/chromium): needed by the end-to-end tests")
command -v zip >/dev/null || missing+=("zip (Debian package 'zip'): makes the zip64 archives the archive tests read")
have_lavapipe || missing+=("mesa-vulkan-drivers >= 25 (Debian bookworm-backports): lavapipe for the Node GPU tests;"\
" SwiftShader from chromium is used instead when present")

if [ ${#missing[@]} -gt 0 ]; then
  [ $is_debian = 1 ] || echo "setup-test-env: this is not Debian; install these by hand:"
  [ $is_root = 1 ] || echo "setup-test-env: not root; ask an administrator to install these:"
  for m in "${missing[@]}"; do echo "  missing: $m"; done
  echo "setup-test-env: tests that need what is missing will be reported as skipped, with the reason (with CI=true they fail)."
else
  chromium_version=$(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}' || true)
  mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  echo "setup-test-env: chromium $chromium_version and lavapipe (mesa-vulkan-drivers $mesa_version) ready"
fi
exit 0
