package verify

import (
	"strings"
	"testing"
)

const refsFixture = `
apiVersion: v1
kind: Secret
metadata: {name: made, namespace: ns}
data: {keys: eA==}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ns}
data: {A: b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ns}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      imagePullSecrets: [{name: pull}]
      containers:
        - name: app
          envFrom: [{configMapRef: {name: settings}}]
          env:
            - {name: K, valueFrom: {secretKeyRef: {name: made, key: keys}}}
            - {name: P, valueFrom: {secretKeyRef: {name: db, key: password}}}
            - {name: O, valueFrom: {secretKeyRef: {name: maybe, key: x, optional: true}}}
      volumes:
        - {name: ca, configMap: {name: ca, items: [{key: ca.crt, path: ca.crt}]}}
`

func TestCheckObjectRefsFires(t *testing.T) {
	objs, err := ParseYAML("refs", []byte(refsFixture))
	if err != nil {
		t.Fatal(err)
	}
	required := []ObjectRef{{"Secret", "db", "password"}, {"ConfigMap", "ca", "ca.crt"}, {"Secret", "pull", ""}}
	if p := CheckObjectRefs(objs, required); len(p) != 0 {
		t.Fatalf("correct fixture: %v", p)
	}
	for _, tc := range []struct {
		name     string
		required []ObjectRef
		mutate   func([]Object)
		want     string
	}{
		{"unchecked secret", required[1:], nil, "Secret/db key password (read by Deployment/app (refs)) is neither made by the chart nor checked"},
		{"unchecked volume", []ObjectRef{required[0], required[2]}, nil, "ConfigMap/ca key ca.crt"},
		{"unchecked pull secret", required[:2], nil, "Secret/pull (read by"},
		{"checked but unread", append(required, ObjectRef{"Secret", "stale", "k"}), nil, "Secret/stale key k is checked before installing but no pod reads it"},
		{"checked but made by the chart", append(required, ObjectRef{"Secret", "made", "keys"}), nil, "Secret/made key keys is checked before installing but no pod reads it (or the chart makes it)"},
		{"made without the key", required, func(o []Object) { o[0].Doc["data"] = map[string]any{"other": "eA=="} }, "Secret/made key keys (read by Deployment/app (refs)) is made by the chart without that key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, _ := ParseYAML("refs", []byte(refsFixture))
			if tc.mutate != nil {
				tc.mutate(objs)
			}
			p := CheckObjectRefs(objs, tc.required)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Errorf("problems %v, want one with %q", p, tc.want)
			}
		})
	}
}
