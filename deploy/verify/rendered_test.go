package verify

import (
	"os"
	"testing"
)

// TheCallGraph is what the services call over HTTP, from their configuration (services/*/internal/service):
// the gateway proxies to every service (AUTH_URL, PROFILES_URL, FRIENDS_URL, MESSAGES_URL); auth asks profiles
// to verify credentials (PROFILES_URL); friends and messages look up profiles, messages checks friendship
// (FRIENDS_URL) and friends tells messages of a friendship's end (MESSAGES_URL); and every service but auth fetches auth's public keys to verify access tokens (AUTH_JWKS_URL).
// TestCallGraphMatchesServiceConfig keeps it honest against the code.
var TheCallGraph = CallGraph{
	"gateway":  {"auth", "profiles", "friends", "messages"},
	"auth":     {"profiles"},
	"profiles": {"auth"},
	"friends":  {"profiles", "messages", "auth"},
	"messages": {"friends", "profiles", "auth"},
}

// PublicService is the only service that takes traffic from outside the cluster.
const PublicService = "gateway"

func renderedSets(t *testing.T) map[string][]Object {
	t.Helper()
	dir := os.Getenv("RENDERED_DIR")
	if dir == "" {
		t.Skip("RENDERED_DIR is not set: run scripts/k8s-validate.sh (make test-k8s), which renders the charts and overlays and sets it")
	}
	sets, err := LoadSets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) == 0 {
		t.Fatalf("RENDERED_DIR %s holds no YAML", dir)
	}
	return sets
}

func runOnRendered(t *testing.T, check func([]Object) Problems) {
	sets := renderedSets(t)
	for _, name := range SortedKeys(sets) {
		t.Run(name, func(t *testing.T) {
			for _, p := range check(sets[name]) {
				t.Error(p)
			}
		})
	}
}

func TestRenderedSelectors(t *testing.T)       { runOnRendered(t, CheckSelectors) }
func TestRenderedServices(t *testing.T)        { runOnRendered(t, CheckServices) }
func TestRenderedProbes(t *testing.T)          { runOnRendered(t, CheckProbes) }
func TestRenderedSecurity(t *testing.T)        { runOnRendered(t, CheckSecurity) }
func TestRenderedServiceAccounts(t *testing.T) { runOnRendered(t, CheckServiceAccounts) }

func TestRenderedNetworkPolicies(t *testing.T) {
	sets := renderedSets(t)
	checked := 0
	for _, name := range SortedKeys(sets) {
		objs := sets[name]
		n := 0
		for _, o := range objs {
			if o.Kind() == "Deployment" {
				if _, ok := TheCallGraph[str(get(PodTemplate(o), "metadata", "labels", ServiceLabel))]; ok {
					n++
				}
			}
		}
		if n == 0 {
			continue // infrastructure only (kustomize overlays)
		}
		checked++
		t.Run(name, func(t *testing.T) {
			if n != len(TheCallGraph) {
				t.Errorf("%d of the %d services rendered", n, len(TheCallGraph))
			}
			for _, p := range CheckNetworkPolicies(objs, TheCallGraph, PublicService) {
				t.Error(p)
			}
		})
	}
	if checked == 0 {
		t.Log("no rendered set holds the services' Deployments: nothing to check")
	}
}
