#!/bin/bash
# Test of the installed library (issue 17, docs/api.md): `cmake --install`
# of this build to a temporary prefix; the C example of docs/api.md compiled
# from a clean directory with `pkg-config --cflags --libs halograph` (shared
# and --static) and with find_package(halograph), and run on a tiny trained
# run; the Python module from the prefix (PYTHONPATH, clean directory) against
# the CLI (tests/api_check.py: bit-identical results, errors); the notebook
# docs/notebook.py executed headless.
# args: $1 halograph binary (its directory is the build tree), $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_api: $*"; exit 1; }
if ! $PY -c "import h5py, numpy, matplotlib" 2>/dev/null; then
    echo "SKIP cli_api: /usr/bin/python3 lacks h5py/numpy/matplotlib"; exit 77
fi
BUILD=$(cd "$(dirname "$HG")" && pwd)
P="$T/prefix"

# ---- install: every promised file, nothing else needed
cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1 || fail "cmake --install: $(tail -3 "$T/install.log")"
for f in bin/halograph include/halograph.h lib/libhalograph.so lib/libhalograph.a lib/pkgconfig/halograph.pc lib/pkgconfig/halograph-static.pc \
         lib/cmake/halograph/halographConfig.cmake lib/cmake/halograph/halographConfigVersion.cmake \
         lib/python3/dist-packages/halograph/__init__.py lib/python3/dist-packages/halograph/_lib.py; do
    [ -e "$P/$f" ] || fail "the install lacks $f"
done
# the shared library exports the API only
bad=$(nm -D --defined-only "$P/lib/libhalograph.so" | awk '{print $3}' | grep -v '^halograph_' | head -3)
[ -z "$bad" ] || fail "libhalograph.so exports non-API symbols: $bad"
# every exported function is declared in the header, and every declared one exported
nm -D --defined-only "$P/lib/libhalograph.so" | awk '{print $3}' | sort >"$T/exported"
grep -oE '\bhalograph_[a-z_]+\(' "$P/include/halograph.h" | tr -d '(' | sort -u >"$T/declared"
cmp -s "$T/exported" "$T/declared" || fail "exported vs declared differ: $(diff "$T/exported" "$T/declared" | head -5)"

# the CLI links libhalograph: its `version` comes from the library's halograph_version, and (a
# Makefile build) its link line names libhalograph.a and none of the layer archives
nm "$HG" | grep -q " T halograph_version$" || fail "the CLI does not contain libhalograph's halograph_version"
LT="$BUILD/CMakeFiles/halograph.dir/link.txt"
if [ -f "$LT" ]; then
    grep -q "libhalograph\.a" "$LT" || fail "the CLI's link line lacks libhalograph.a: $LT"
    grep -qE "libhg_[a-z]+\.a" "$LT" && fail "the CLI's link line names layer archives: $(grep -oE "libhg_[a-z]+\.a" "$LT" | head -3)"
fi

tiny_run "$T" "$SRC/configs/tiny-test.yaml"
RUN="$T/run"

# ---- the C example of docs/api.md, from a clean directory
C="$T/clean-c"
mkdir -p "$C"
awk '/^```c$/{on=1; next} /^```$/{if(on) exit} on' "$SRC/docs/api.md" >"$C/example.c"
[ -s "$C/example.c" ] || fail "no C example in docs/api.md"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
flags=$(pkg-config --cflags --libs halograph) || fail "pkg-config --cflags --libs halograph"
echo "$flags" | grep -q -- "-lhalograph" || fail "pkg-config flags lack -lhalograph: $flags"
(cd "$C" && cc -std=c11 -Wall -Werror -o example example.c $flags -Wl,-rpath,"$P/lib") || fail "compiling the example (shared)"
out=$(cd "$C" && ./example "$RUN" 2>&1) || fail "running the example: $out"
for pat in "N = 64 haloes, F = 7 features, C = 2" "sample: 10/10" "NELBO: " "Omega_m = 0.40: log L" \
           "expected error: .*'h' is not a conditioning parameter" "xi: " "profile: [0-9]* kernels"; do
    echo "$out" | grep -q -- "$pat" || fail "example output lacks '$pat': $out"
done
# the same program statically linked gives the same output
sflags=$(pkg-config --cflags --libs halograph-static) || fail "pkg-config --cflags --libs halograph-static"
(cd "$C" && cc -std=c11 -o example-static example.c $sflags) || fail "compiling the example (static)"
ldd "$C/example-static" | grep -q libhalograph && fail "example-static links libhalograph.so"
out_s=$(cd "$C" && ./example-static "$RUN" 2>&1) || fail "running the static example: $out_s"
[ "$out" = "$out_s" ] || fail "static and shared examples differ: $out_s"
# every kernel of the train step's schedule was timed in both steps
echo "$out" | grep -qE "^profile: ([0-9]+) kernels, \1 of them timed in both steps$" || fail "example profile: $(echo "$out" | grep profile)"
unset PKG_CONFIG_PATH

# ---- find_package(halograph) from a CMake project
K="$T/clean-cmake"
mkdir -p "$K"
cp "$C/example.c" "$K/"
cat >"$K/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(example LANGUAGES C)
find_package(halograph 0.1 CONFIG REQUIRED)
add_executable(example example.c)
target_link_libraries(example PRIVATE halograph::halograph)
EOF
(cmake -S "$K" -B "$K/b" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_RPATH="$P/lib" >"$K/log" 2>&1 &&
    cmake --build "$K/b" >>"$K/log" 2>&1) || fail "find_package build: $(tail -5 "$K/log")"
out_k=$("$K/b/example" "$RUN" 2>&1) || fail "running the CMake-built example: $out_k"
[ "$out" = "$out_k" ] || fail "CMake-built example differs: $out_k"

# ---- Python from the prefix, clean directory, library found next to the package
D="$T/clean-py"
mkdir -p "$D"
(cd "$D" && env -u HALOGRAPH_LIBRARY PYTHONPATH="$P/lib/python3/dist-packages" \
    $PY "$SRC/tests/api_check.py" "$P/bin/halograph" "$SRC" "$T") || fail "tests/api_check.py"

# ---- the notebook, headless: the shipped weights and the bundled simulations (20 sampler steps)
N="$T/clean-nb"
mkdir -p "$N"
(cd "$N" && env -u HALOGRAPH_LIBRARY MPLBACKEND=Agg PYTHONPATH="$P/lib/python3/dist-packages" \
    HG_NOTEBOOK_OUT="$N/universe.png" HG_NOTEBOOK_SAMPLE_STEPS=20 \
    $PY "$SRC/docs/notebook.py" >"$N/log" 2>&1) || fail "docs/notebook.py: $(tail -5 "$N/log")"
head -c 8 "$N/universe.png" | od -An -c | grep -q "P   N   G" || fail "notebook: universe.png is not a PNG"
grep -q "pretrained/default': N=640" "$N/log" || fail "notebook: did not load the shipped weights: $(head -3 "$N/log")"
grep -q "^Omega_m grid .* max at" "$N/log" || fail "notebook: no likelihood profile: $(tail -2 "$N/log")"
echo "PASS cli_api"
