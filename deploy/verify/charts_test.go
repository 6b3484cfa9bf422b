package verify

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The umbrella's values files, as scripts/k8s-render.sh renders them ("" is the defaults).
var valuesFiles = []string{"", "values-kind.yaml", "values-minikube.yaml", "values-production.yaml", "values-local.yaml"}

// helmTemplate renders chartDir (the umbrella, or a copy of it) with the helm of .tools/bin as
// scripts/k8s-render.sh does; it skips the test when helm or the packaged dependencies are missing.
func helmTemplate(t *testing.T, chartDir string, args ...string) []Object {
	t.Helper()
	helm := filepath.Join(repoRoot(t), ".tools", "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Skip("helm is not installed in .tools/bin: make test-k8s installs it")
	}
	if deps, _ := filepath.Glob(filepath.Join(chartDir, "charts", "*.tgz")); len(deps) == 0 {
		t.Skipf("%s has no packaged dependencies: run scripts/k8s-charts.sh deps (make test-k8s does)", chartDir)
	}
	tmp := t.TempDir()
	cmd := exec.Command(helm, append([]string{"template", "messenger", chartDir, "--namespace", "messenger",
		"--kube-version", "1.37.2"}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+tmp, "HELM_CACHE_HOME="+tmp, "HELM_DATA_HOME="+tmp)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	objs, err := ParseYAML("helm template", out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func umbrella(t *testing.T) string { return filepath.Join(repoRoot(t), "charts", "messenger") }

func valuesArgs(t *testing.T, file string) []string {
	if file == "" {
		return nil
	}
	return []string{"--values", filepath.Join(umbrella(t), file)}
}

// probeName is the ConfigMap that the probe template adds to a copy of the umbrella chart.
const probeName = "verify-required-objects"

// TestEveryReferencedObjectIsMadeOrChecked renders a copy of the umbrella chart with one more template that
// prints messenger.requiredObjects — the list templates/checks.yaml checks against the cluster before
// installing — and proves, for every values file, that each Secret or ConfigMap key a pod reads is either made by
// the chart or on that list (so a missing one fails the install with its kubectl command instead of leaving a pod
// in CreateContainerConfigError), and that the list holds nothing no pod reads.
func TestEveryReferencedObjectIsMadeOrChecked(t *testing.T) {
	src := umbrella(t)
	checks, err := os.ReadFile(filepath.Join(src, "templates", "checks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The probe is meaningful only if the check uses the very list it prints.
	if !regexp.MustCompile(`include "messenger-lib\.requireObjects" \(dict "ctx" \. "objects" \(include "messenger\.requiredObjects" \. \| fromYamlArray\)\)`).Match(checks) {
		t.Fatalf("templates/checks.yaml does not check messenger.requiredObjects with messenger-lib.requireObjects:\n%s", checks)
	}
	chart := filepath.Join(t.TempDir(), "messenger")
	if err := os.CopyFS(chart, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	probe := `apiVersion: v1
kind: ConfigMap
metadata: {name: ` + probeName + `}
data:
  objects: {{ include "messenger.requiredObjects" . | fromYamlArray | toJson | quote }}
`
	if err := os.WriteFile(filepath.Join(chart, "templates", "zz-verify-probe.yaml"), []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		// What no values file uses: a MySQL CA (from a ConfigMap, then a Secret), pull secrets, per-service
		// credentials, an existing signing-key Secret.
		"local+ca-configmap+pull-secrets": append(valuesArgs(t, "values-local.yaml"), "--set", "global.mysql.tls.ca.configMapName=mysql-ca", "--set", "global.mysql.tls.mode=true",
			"--set", "global.image.pullSecrets={regcred}", "--set", "messages.amqp.credentialsSecret.name=messages-rabbitmq",
			"--set", "auth.signingKeys.secretName=auth-keys"),
		"ca-secret": {"--set", "global.mysql.tls.ca.secretName=mysql-ca", "--set", "global.mysql.tls.ca.key=root.pem",
			"--set", "friends.imagePullSecrets={friends-pull}"},
	}
	for _, vf := range valuesFiles {
		name := strings.TrimSuffix(strings.TrimPrefix(vf, "values-"), ".yaml")
		if name == "" {
			name = "default"
		}
		cases[name] = valuesArgs(t, vf)
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) {
			objs := helmTemplate(t, chart, cases[name]...)
			var rest []Object
			var required []ObjectRef
			for _, o := range objs {
				if o.Kind() != "ConfigMap" || o.Name() != probeName {
					rest = append(rest, o)
					continue
				}
				var listed []struct {
					Kind, Name string
					Keys       map[string]any
				}
				if err := json.Unmarshal([]byte(str(get(o.Doc, "data", "objects"))), &listed); err != nil {
					t.Fatal(err)
				}
				for _, l := range listed {
					if len(l.Keys) == 0 {
						required = append(required, ObjectRef{l.Kind, l.Name, ""})
					}
					for k := range l.Keys {
						required = append(required, ObjectRef{l.Kind, l.Name, k})
					}
				}
			}
			if len(required) == 0 {
				t.Fatal("the probe listed nothing: every service reads at least its broker credentials")
			}
			for _, p := range CheckObjectRefs(rest, required) {
				t.Error(p)
			}
			names := map[string]bool{}
			for _, r := range required {
				names[r.String()] = true
			}
			t.Logf("checked before installing: %s", strings.Join(keys(names), ", "))
		})
	}
}

// auth's signing key, when the chart makes it: a Secret read by auth's AUTH_SIGNING_KEYS holding one base64
// Ed25519 seed (32 bytes), random at each render, and rendered by a template that looks the Secret up in the
// cluster and keeps its value, so an upgrade never changes the key (only a client-side render, which cannot look,
// shows a fresh one). Against a real API server the keeping itself is proven by TestHelmInstallAgainstAPIServer.
func TestSigningKeySecretIsGeneratedAndKept(t *testing.T) {
	seed := func(objs []Object) string {
		t.Helper()
		var auth *Object
		for i, o := range objs {
			if o.Kind() == "Deployment" && str(get(PodTemplate(o), "metadata", "labels", ServiceLabel)) == "auth" {
				auth = &objs[i]
			}
		}
		if auth == nil {
			t.Fatal("no auth Deployment")
		}
		var ref map[string]any
		for _, c := range Containers(mapOf(get(PodTemplate(*auth), "spec")), false) {
			for _, e := range list(c["env"]) {
				if str(mapOf(e)["name"]) == "AUTH_SIGNING_KEYS" {
					ref = mapOf(get(e, "valueFrom", "secretKeyRef"))
				}
			}
		}
		if ref == nil {
			t.Fatal("auth has no AUTH_SIGNING_KEYS from a Secret")
		}
		s := findObject(objs, "Secret", str(ref["name"]), auth.Namespace())
		if s == nil {
			t.Fatalf("Secret %s (AUTH_SIGNING_KEYS) is not made by the chart", str(ref["name"]))
		}
		if ann := mapOf(get(s.Doc, "metadata", "annotations")); ann["helm.sh/hook"] != nil || ann["helm.sh/resource-policy"] != nil {
			t.Errorf("%s: annotations %v: it must be an ordinary release object (deleted with the release)", s, ann)
		}
		value, err := base64.StdEncoding.DecodeString(str(get(s.Doc, "data", str(ref["key"]))))
		if err != nil {
			t.Fatalf("%s: data.%s is not base64: %v", s, str(ref["key"]), err)
		}
		raw, err := base64.StdEncoding.DecodeString(string(value))
		if err != nil || len(raw) != 32 {
			t.Fatalf("%s: %q is not one base64 Ed25519 seed of 32 bytes (%d bytes, %v)", s, value, len(raw), err)
		}
		return string(value)
	}
	first, second := seed(helmTemplate(t, umbrella(t))), seed(helmTemplate(t, umbrella(t)))
	if first == second {
		t.Error("two renders gave the same key: it is not generated")
	}
	// Kept: the template reuses the value of the Secret it looks up, by the same name and key.
	tpl, err := os.ReadFile(filepath.Join(repoRoot(t), "charts", "messenger-lib", "templates", "_secrets.tpl"))
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)\{\{- define "messenger-lib\.signingKeysSecret" -\}\}(.*?)\{\{- end -\}\}\n`).FindSubmatch(tpl)
	if body == nil {
		t.Fatal(`no define "messenger-lib.signingKeysSecret" in _secrets.tpl`)
	}
	for _, want := range []string{
		`$existing := lookup "v1" "Secret" $ctx.Release.Namespace $sk.secretName`,
		`with $existing }}{{ with .data }}{{ with get . $sk.key }}{{ $value = . }}`,
		`name: {{ $sk.secretName }}`,
		`{{ $sk.key }}: {{ $value }}`,
	} {
		if !strings.Contains(string(body[1]), want) {
			t.Errorf("messenger-lib.signingKeysSecret does not contain %q: the key would change on upgrades", want)
		}
	}
}

// image.digest pins a service's image: <registry>/<repository>:<tag>@<digest>, for its Deployment and, for the
// gateway, the `helm test` pod that runs its image.
func TestImageDigestPinsTheImage(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	objs := helmTemplate(t, umbrella(t), "--set", "global.image.registry=registry.example.com/acme",
		"--set", "global.image.tag=1.2.3", "--set", "gateway.image.digest="+digest)
	want := map[string]string{
		"Deployment/messenger-gateway":  "registry.example.com/acme/simplemessenger/gateway:1.2.3@" + digest,
		"Pod/messenger-test-readyz":     "registry.example.com/acme/simplemessenger/gateway:1.2.3@" + digest,
		"Deployment/messenger-auth":     "registry.example.com/acme/simplemessenger/auth:1.2.3",
		"Deployment/messenger-messages": "registry.example.com/acme/simplemessenger/messages:1.2.3",
		"Deployment/messenger-profiles": "registry.example.com/acme/simplemessenger/profiles:1.2.3",
		"Deployment/messenger-friends":  "registry.example.com/acme/simplemessenger/friends:1.2.3",
	}
	for _, o := range objs {
		w, ok := want[o.Kind()+"/"+o.Name()]
		if !ok {
			continue
		}
		delete(want, o.Kind()+"/"+o.Name())
		for _, c := range Containers(mapOf(get(PodTemplate(o), "spec")), true) {
			if got := str(c["image"]); got != w {
				t.Errorf("%s: image %q, want %q", o, got, w)
			}
		}
	}
	for k := range want {
		t.Errorf("%s not rendered", k)
	}
	// A malformed digest is refused by the schema.
	helm := filepath.Join(repoRoot(t), ".tools", "bin", "helm")
	out, err := exec.Command(helm, "template", "m", umbrella(t), "--kube-version", "1.37.2", "--set", "gateway.image.digest=sha256:xyz").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "digest") {
		t.Errorf("a malformed digest was accepted (%v):\n%s", err, out)
	}
}
