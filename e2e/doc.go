// Package e2e holds the end-to-end tests: they build and start the whole stack and drive it through the
// public gateway, as a client would.
package e2e
