# Sourced by the other scripts: points the build at the project's cached torch venv.
WARPFLOW_CACHE="${WARPFLOW_CACHE:-$HOME/.cache/warpflow}"
export VIRTUAL_ENV="$WARPFLOW_CACHE/venv"
export PATH="$VIRTUAL_ENV/bin:$HOME/.cargo/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
export LIBTORCH_BYPASS_VERSION_CHECK="${LIBTORCH_BYPASS_VERSION_CHECK:-0}"
