# Sourced by the scripts that run go on their own (lint, vulncheck, fuzz, the k8s and cluster scripts, ...): their
# go commands run the Go the Makefile and .ci/run pin (README "Go toolchain"), also when a script is run without
# make; a GOTOOLCHAIN already set wins (make exports its own). Raise it together with those two.
# shellcheck shell=bash
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.26.11}
