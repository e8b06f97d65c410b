#!/usr/bin/env bash
# Reproducible builds: copies the working tree (without build output) into two empty directories,
# builds the grammar, compiler and cli jars and the small distribution in each (mvn -o package,
# tests skipped: they run in CI's install), and compares the files' SHA-256. Exit 1 if any differ.
# The two builds run at different times in different folders, so a timestamp or an absolute path
# that reached a jar shows here. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the patterns expand in each build's copy, not here (old jars in this tree must not count)
patterns='grammar/target/cnnc-grammar-*.jar compiler/target/cnnc-compiler-*.jar cli/target/cnnc-cli-*.jar
          dist/target/cnnc-*.tar.gz dist/target/cnnc-*.zip'
for build in one two; do
  mkdir "$work/$build"
  tar --exclude=./.git --exclude='*/target' --exclude=./target -cf - . | tar -xf - -C "$work/$build"
  (cd "$work/$build" && mvn -o -q -B -Dstyle.color=never package -pl grammar,compiler,cli,dist -DskipTests)
  (cd "$work/$build" && sha256sum $patterns) >"$work/$build.sha256"
  [ $build = one ] && sleep 2   # a second passes on the clock between the builds, at least
done
cat "$work/one.sha256"
if ! diff "$work/one.sha256" "$work/two.sha256"; then
  echo "reproducible: the two builds differ (above)" >&2
  exit 1
fi
echo "reproducible: $(wc -l <"$work/one.sha256") files byte-identical in two builds"
