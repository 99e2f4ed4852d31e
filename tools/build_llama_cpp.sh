#!/usr/bin/env bash
# llama.cpp compiled once, from llama-cpp-python's source distribution, for both of its users here:
#   - llama-cpp-python (installed with LLAMA_BUILD=OFF: it compiles nothing) gets these libraries in llama_cpp/lib;
#   - llama-server and llama-mtmd-cli go to the environment's bin/, the same commit and the same kernels.
# Portable x86-64 (AVX2, FMA, F16C; no -march=native): one build runs alike on AVX2-only, AVX-512 and AMX CPUs and
# never contains ggml's AMX kernel, whose tile config GCC drops (SIGILL at tilezero on Intel Xeons; docs/gguf.md).
# The build is cached outside the checkout, like pip's wheels, keyed by version and flags.
# Usage: tools/build_llama_cpp.sh SDIST VENV   (the Makefile's `venv` runs it)
set -euo pipefail
sdist=${1:?the llama_cpp_python-VERSION.tar.gz source distribution}
venv=${2:?the virtual environment to install into}
version=$(basename "$sdist" .tar.gz | sed 's/^llama_cpp_python-//')

# Every knob an environment variable.
LLAMA_CPP_CPU_FLAGS=${LLAMA_CPP_CPU_FLAGS:-"-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON \
-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF \
-DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"}
# ggml's own thread pool, not OpenMP: libgomp.so.1 is torch's in a process that imported torch first, and a pool that
# torch started does not survive a fork (tests run llama.cpp in forked children: tests/native.py)
LLAMA_CPP_THREADS=${LLAMA_CPP_THREADS:-"-DGGML_OPENMP=OFF"}
LLAMA_CPP_CACHE=${LLAMA_CPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qwen3-smvl}
JOBS=${JOBS:-$(nproc)}

key=$(echo "$version $LLAMA_CPP_CPU_FLAGS $LLAMA_CPP_THREADS" | sha256sum | cut -c1-12)
build=$LLAMA_CPP_CACHE/llama.cpp-$version-$key
mkdir -p "$LLAMA_CPP_CACHE"
exec 9> "$build.lock" && flock 9  # two environments built at once share one compile
if [ ! -f "$build/.complete" ]; then
  echo "compiling llama.cpp $version once into $build ($JOBS jobs; 15-25 minutes on 2 cores)"
  rm -rf "$build" && mkdir -p "$build/src"
  tar -xzf "$sdist" -C "$build/src" --strip-components=3 "llama_cpp_python-$version/vendor/llama.cpp"
  rm -f "$build/src/.git"  # a submodule's pointer into llama-cpp-python's repository, which is not here
  # $ORIGIN: libraries and programs find each other wherever they are copied together
  # shellcheck disable=SC2086
  cmake -S "$build/src" -B "$build/cmake" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON -DCMAKE_INSTALL_RPATH='$ORIGIN' \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF $LLAMA_CPP_CPU_FLAGS $LLAMA_CPP_THREADS \
    > "$build/configure.log"
  cmake --build "$build/cmake" -j "$JOBS" --target llama-server llama-mtmd-cli mtmd > "$build/build.log"
  if objdump -d "$build/cmake/bin/libggml-cpu.so" | grep -qE 'ldtilecfg|tilezero'; then
    echo "the build holds AMX tile instructions; LLAMA_CPP_CPU_FLAGS must leave AMX out" >&2
    exit 1
  fi
  touch "$build/.complete"
fi

# llama-cpp-python loads llama_cpp/lib/*.so; the programs sit beside the libraries they link ($ORIGIN)
lib=$("$venv/bin/python" -c 'import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).parent / "lib")' 2>/dev/null \
  || "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"] + "/llama_cpp/lib")')
mkdir -p "$lib"
rm -f "$lib"/*.so*
cp -a "$build/cmake/bin/"*.so* "$build/cmake/bin/llama-server" "$build/cmake/bin/llama-mtmd-cli" "$lib/"
ln -sf "$lib/llama-server" "$venv/bin/llama-server"
ln -sf "$lib/llama-mtmd-cli" "$venv/bin/llama-mtmd-cli"
echo "llama.cpp $version ($build) installed into $lib; llama-server and llama-mtmd-cli in $venv/bin"
