# Shared helpers for scripts/run, scripts/test and scripts/bench. Sourced, not run.

# Build output lives outside the clone so a fresh clone (CI) reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/griddispatch/target}"

log() { printf '==> %s\n' "$*" >&2; }

apt_updated=""
# apt_install PKG...: installs the Debian packages that are missing.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    $sudo apt-get update -qq
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_toolchain: a C compiler and pkg-config for -sys crates, and a Rust toolchain.
ensure_toolchain() {
  command -v cc >/dev/null && command -v pkg-config >/dev/null || apt_install build-essential pkg-config
  if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null; then
    log "no Rust toolchain found; installing Debian's cargo"
    apt_install cargo rustc
  fi
  local v
  v=$(rustc --version | awk '{print $2}')
  case "$v" in
    1.[0-7][0-9].*|1.8[0-4].*)
      log "rustc $v is too old (griddispatch needs 1.85 or newer); install a current toolchain with rustup"
      exit 1 ;;
  esac
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# start_local_postgres: starts this machine's newest Debian PostgreSQL cluster when nothing
# listens on 127.0.0.1:5432 and one exists; true when something listens there afterwards.
start_local_postgres() {
  if ! port_open 127.0.0.1 5432 && command -v pg_ctlcluster >/dev/null && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    log "starting PostgreSQL on 127.0.0.1:5432"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    for _ in $(seq 50); do port_open 127.0.0.1 5432 && break; sleep 0.1; done
  fi
  port_open 127.0.0.1 5432
}

# GStreamer, which griddispatch links against for camera probes and snapshots: the
# development files, the plugin sets that open RTSP/HTTP/file streams, and libav for the
# H.264/H.265 that most cameras send. Tests also serve RTSP themselves (gst-rtsp-server).
GSTREAMER_PACKAGES=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)
ensure_gstreamer() { apt_install "${GSTREAMER_PACKAGES[@]}" "$@"; }

# ensure_web: Node.js and npm (Debian's when missing), then `npm ci` in web/ when
# web/node_modules is missing or older than web/package-lock.json. The build embeds the map
# libraries from there (build.rs), so this runs before any cargo build, clippy included.
ensure_web() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
  local stamp=web/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ web/package-lock.json -nt "$stamp" ]; then
    log "npm ci (web console and field app: leaflet, leaflet-geoman, mqtt.js, echarts, playwright-core)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# ensure_chromium: Debian's chromium for the console's end-to-end tests (driven by
# playwright-core, which downloads no browser of its own).
ensure_chromium() { command -v chromium >/dev/null || apt_install chromium; }
