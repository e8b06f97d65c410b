#!/usr/bin/env bash
# Tests a built distribution as a user meets it: unpacks the archive into an empty directory and
# runs bin/cnnc there with a PATH that holds java and a shell's tools but no Maven, and without
# network (a new network namespace, when the kernel lets us make one).
#   tools/dist-test.sh dist/target/cnnc-VERSION.tar.gz            the small one: check, summary, --version,
#                                                                 and run's message about what is missing
#   tools/dist-test.sh dist-full/target/cnnc-full-VERSION.zip     the full one: the same, and run --random
# Exit 0 when every check passes. Run by .ci/run after `mvn install`.
set -euo pipefail
cd "$(dirname "$0")/.."
archive=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' pom.xml | head -1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/unpacked" "$work/path"
case $archive in
  *.tar.gz) tar -xzf "$archive" -C "$work/unpacked" ;;
  *.zip) (cd "$work/unpacked" && jar xf "$archive" && chmod +x */bin/cnnc) ;;
  *) echo "dist-test: not a .tar.gz or .zip: $archive" >&2; exit 2 ;;
esac
home=$(echo "$work"/unpacked/*)
full=no
case $(basename "$home") in cnnc-full-*) full=yes ;; esac

# The PATH of the runs: java and the few tools a shell script uses, nothing else (no mvn, no curl).
java=$(readlink -f "$(command -v java)")
ln -s "$java" "$work/path/java"
for tool in sh dirname readlink cksum cut ls cat mkdir mktemp mv rm wc tr; do ln -s "$(command -v $tool)" "$work/path/$tool"; done
net=()
if unshare -rn true 2>/dev/null; then
  net=("$(command -v unshare)" -rn)
else
  echo "dist-test: cannot make a network namespace here; the runs keep the network" >&2
fi
failures=0
extra_env=()   # more VAR=VALUE for the runs (JAVA_OPTS, CNNC_OPTS)
cnnc() {
  (cd "$work" && ${net[@]+"${net[@]}"} env -i HOME="$work" PATH="$work/path" ${extra_env[@]+"${extra_env[@]}"} "$home/bin/cnnc" "$@")
}
expect() {   # expect CODE PATTERN ARGS...: bin/cnnc ARGS exits with CODE and prints PATTERN (grep -E)
  local code=$1 pattern=$2; shift 2
  local out status=0
  out=$(cnnc "$@" 2>&1) || status=$?
  if [ "$status" != "$code" ] || ! grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL: bin/cnnc $* (exit $status, wanted $code and /$pattern/):" >&2
    echo "$out" | tail -20 >&2
    failures=$((failures + 1))
  else
    echo "ok: bin/cnnc $*"
  fi
}

[ "$(env -i PATH="$work/path" sh -c 'command -v mvn || true')" = "" ] || { echo "dist-test: mvn on the PATH" >&2; exit 1; }
for f in bin/cnnc bin/cnnc.bat LICENSE README.md CHANGELOG.md lib/cnnc-cli-$version.jar; do
  [ -f "$home/$f" ] || { echo "FAIL: $f missing from $(basename "$archive")" >&2; failures=$((failures + 1)); }
done
cp "$home/models.cnn" "$work/models.cnn"
expect 0 "^cnnc $version\$" --version
expect 0 "^ok: 3 models in 1 file\$" check models.cnn
expect 0 "^Total params: 13,351,716\$" summary models.cnn --model GoogLeNet
expect 1 "error" check "$home/LICENSE"
# Start-up (README, "Start-up"): the first command made the class-data-sharing archive in the
# user's cache; the next ones map the compiler's classes from it; JAVA_OPTS, then CNNC_OPTS, reach
# the JVM; an archive cut short (JDK 17 dies of SIGBUS mapping one) is never mapped, but made again.
archives=("$work"/.cache/cnnc/cnnc-*.jsa)
if [ ${#archives[@]} != 1 ] || [ ! -f "${archives[0]}" ]; then
  echo "FAIL: not one start-up archive in ~/.cache/cnnc: $(ls -A "$work/.cache/cnnc" 2>&1)" >&2; failures=$((failures + 1))
else
  extra_env=(CNNC_OPTS=-Xlog:class+load)
  expect 0 "org.cnnc.compiler.Compiler source: shared objects file \(top\)" check models.cnn
  extra_env=(JAVA_OPTS=-Xlog:class+load CNNC_OPTS=-Xlog:disable)
  if [ "$(cnnc --version 2>&1)" != "cnnc $version" ]; then
    echo "FAIL: CNNC_OPTS does not come after JAVA_OPTS" >&2; failures=$((failures + 1))
  else
    echo "ok: CNNC_OPTS after JAVA_OPTS"
  fi
  extra_env=(JAVA_OPTS=-Xlog:class+load)
  expect 0 "\[class,load\]" --version
  extra_env=()
  size=$(wc -c <"${archives[0]}")
  chmod u+w "${archives[0]}"
  head -c $((size / 3)) "${archives[0]}" >"$work/cut" && cat "$work/cut" >"${archives[0]}"
  expect 0 "^ok: 3 models in 1 file\$" check models.cnn
  # made again whole: one archive, of the size its name says (a dynamic archive's size may differ
  # by a few bytes from one making to the next, so its name may too)
  remade=("$work"/.cache/cnnc/cnnc-*.jsa)
  made_size=${remade[0]##*-}
  made_size=${made_size%.jsa}
  if [ ${#remade[@]} != 1 ] || [ ! -f "${remade[0]}" ] || [ "$(wc -c <"${remade[0]}")" != "$made_size" ]; then
    echo "FAIL: the archive cut short was not made again: $(ls -l "$work/.cache/cnnc" 2>&1)" >&2; failures=$((failures + 1))
  fi
fi
if [ $full = yes ]; then
  expect 0 "." run models.cnn --model NiN --random
  # The jars of DL4J, ND4J and the natives are there.
  ls "$home"/lib/nd4j-native-*linux-x86_64*.jar >/dev/null
else
  expect 2 "'run' computes on Deeplearning4j, which this cnnc leaves out" run models.cnn --model NiN --random
  if ls "$home"/lib | grep -Eq 'deeplearning4j|nd4j|mkl|dnnl|cnnc-run|cnnc-runtime'; then
    echo "FAIL: DL4J jars in the small distribution" >&2; failures=$((failures + 1))
  fi
fi
echo "$(basename "$archive"): $(du -k "$archive" | cut -f1) KiB, unpacked $(du -sk "$home" | cut -f1) KiB"
[ $failures = 0 ] || { echo "dist-test: $failures failures" >&2; exit 1; }
