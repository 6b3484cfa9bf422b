// Package e2e holds the end-to-end tests: they build and start the whole stack and drive it through the
// public gateway, as a client would. With E2E_GATEWAY_URL set they test a messenger already running there
// instead (e.g. on Kubernetes) and start nothing; the tests that need the suite's own stack then skip.
package e2e
