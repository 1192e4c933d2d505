#!/usr/bin/env bash
# Entrypoint of the Falco driver loader images.
#
# Chooses a Falco driver (modern eBPF probe or kernel module) for the host
# kernel and installs it with falcoctl, downloading a prebuilt driver or
# compiling one. The host's root filesystem is expected at $HOST_ROOT.

set -euo pipefail

readonly FALCOCTL="${FALCOCTL:-falcoctl}"
readonly HOST_ROOT="${HOST_ROOT:-/host}"

usage() {
	cat <<USAGE
Usage:
  docker run --rm -i -t --privileged \\
    -v /root/.falco:/root/.falco -v /proc:/host/proc:ro -v /boot:/host/boot:ro \\
    -v /lib/modules:/host/lib/modules:ro -v /usr:/host/usr:ro -v /etc:/host/etc:ro \\
    IMAGE [DRIVER] [OPTIONS]

Drivers:
  auto          pick the best driver for this kernel (default)
  modern_ebpf   the modern eBPF (CO-RE) probe; needs no build on the host
  kmod          the kernel module

Options:
  -h, --help                 print this help and exit
  --compile                  build the driver locally (default: download, then compile)
  --download                 download a prebuilt driver (default: download, then compile)
  --clean                    remove an installed driver and exit
  --print-env                print the environment falcoctl would use and exit
  --kernel-release VALUE     kernel release to install for (default: the running kernel)
  --kernel-version VALUE     kernel version to install for (default: the running kernel)
  --http-insecure            allow driver downloads over plain HTTP

Environment:
  FALCOCTL_DRIVER_REPOS         comma-separated URLs of prebuilt driver repositories
  FALCOCTL_DRIVER_NAME          name of the driver to install
  FALCOCTL_DRIVER_HTTP_HEADERS  comma-separated HTTP headers for driver downloads
USAGE
}

fail() {
	echo "error: $*" >&2
	usage >&2
	exit 1
}

driver=""
compile=false
download=false
http_insecure=false
install_args=()

while [[ $# -gt 0 ]]; do
	case "$1" in
	auto | kmod | modern_ebpf)
		[[ -z "$driver" ]] || fail "only one driver can be given (got '$driver' and '$1')"
		driver="$1"
		;;
	-h | --help)
		usage
		exit 0
		;;
	--compile) compile=true ;;
	--download) download=true ;;
	--http-insecure) http_insecure=true ;;
	--kernel-release | --kernel-version)
		[[ $# -ge 2 && -n "$2" ]] || fail "$1 needs a value"
		install_args+=("--kernel${1#--kernel-}=$2")
		shift
		;;
	--kernel-release=* | --kernel-version=*)
		option="${1%%=*}"
		install_args+=("--kernel${option#--kernel-}=${1#*=}")
		;;
	# As Falco's loader: these report what falcoctl says and always exit 0.
	--clean)
		"$FALCOCTL" driver cleanup || echo "* falcoctl driver cleanup failed (exit $?)" >&2
		exit 0
		;;
	--print-env)
		"$FALCOCTL" driver printenv || echo "* falcoctl driver printenv failed (exit $?)" >&2
		exit 0
		;;
	-*) fail "unknown option '$1'" ;;
	*) fail "unknown driver '$1'" ;;
	esac
	shift
done

# Neither --compile nor --download: try both, downloading first.
if [[ "$compile" == false && "$download" == false ]]; then
	compile=true
	download=true
fi

# Make the host's kernel sources (e.g. /usr/src/linux-headers-*) visible where
# the build tools look for them.
if [[ -d "$HOST_ROOT/usr/src" ]]; then
	echo "* Linking kernel sources from $HOST_ROOT/usr/src"
	for source_dir in "$HOST_ROOT"/usr/src/*; do
		[[ -e "$source_dir" ]] || continue
		link="/usr/src/$(basename "$source_dir")"
		[[ -e "$link" ]] || ln -s "$source_dir" "$link"
	done
fi

driver="${driver:-auto}"
if [[ "$driver" == auto ]]; then
	# Let falcoctl choose among every driver this image can provide.
	config_types=(--type modern_ebpf --type kmod)
else
	config_types=(--type "$driver")
fi
# A failed configuration does not stop the install, as in Falco's loader: Helm's 'auto' mode
# configures the driver through the Kubernetes API, which this container may not reach.
if ! "$FALCOCTL" driver config "${config_types[@]}"; then
	echo "* falcoctl driver config failed: going on with the install" >&2
fi

exec "$FALCOCTL" driver install \
	--compile="$compile" \
	--download="$download" \
	--http-insecure="$http_insecure" \
	--http-headers="${FALCOCTL_DRIVER_HTTP_HEADERS:-}" \
	${install_args[@]+"${install_args[@]}"}
