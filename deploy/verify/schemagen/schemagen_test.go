package schemagen

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

func TestFileName(t *testing.T) {
	for _, c := range []struct{ kind, apiVersion, want string }{
		{"Deployment", "apps/v1", "deployment-apps-v1.json"},
		{"Service", "v1", "service-v1.json"},
		{"NetworkPolicy", "networking.k8s.io/v1", "networkpolicy-networking-v1.json"},
		{"ServiceMonitor", "monitoring.coreos.com/v1", "servicemonitor-monitoring-v1.json"},
		{"MariaDB", "k8s.mariadb.com/v1alpha1", "mariadb-k8s-v1alpha1.json"},
	} {
		if got := FileName(c.kind, c.apiVersion); got != c.want {
			t.Errorf("FileName(%s, %s) = %s, want %s", c.kind, c.apiVersion, got, c.want)
		}
	}
}

func compile(t *testing.T, s Schema) *jsonschema.Schema {
	t.Helper()
	b, _ := json.Marshal(s)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem://s.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("mem://s.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, manifest string) error {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	return sch.Validate(inst)
}

// A miniature swagger: a kind with a nested ref, an int-or-string, a quantity map and a self-reference.
const miniSwagger = `{"definitions": {
 "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
 "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
 "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object", "properties": {"name": {"type": "string"}}},
 "x.Port": {"type": "object", "required": ["port"], "properties": {"port": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}}},
 "x.Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/x.Node"}, "v": {"type": "integer"}}},
 "x.Thing": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Thing"}],
  "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
   "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
   "ports": {"type": "array", "items": {"$ref": "#/definitions/x.Port"}},
   "limits": {"type": "object", "additionalProperties": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}},
   "tree": {"$ref": "#/definitions/x.Node"}}}
}}`

func TestSwaggerStrict(t *testing.T) {
	var sw Swagger
	if err := json.Unmarshal([]byte(miniSwagger), &sw); err != nil {
		t.Fatal(err)
	}
	kinds := sw.Kinds()
	g := GVK{"example.com", "v1", "Thing"}
	if kinds[g] != "x.Thing" {
		t.Fatalf("Kinds() = %v", kinds)
	}
	s, err := sw.KindSchema("x.Thing", g)
	if err != nil {
		t.Fatal(err)
	}
	sch := compile(t, s)
	good := "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: a}\nports: [{port: 80}, {port: http}]\nlimits: {cpu: 1, memory: 1Gi}\ntree: {child: {child: {v: 1}}}\n"
	if err := validate(t, sch, good); err != nil {
		t.Fatalf("good manifest rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"unknown top-level field":   strings.Replace(good, "limits:", "limitz:", 1),
		"unknown nested field":      strings.Replace(good, "{port: 80}", "{port: 80, prot: TCP}", 1),
		"unknown field in metadata": strings.Replace(good, "{name: a}", "{name: a, nmae: b}", 1),
		"unknown field in a cycle":  strings.Replace(good, "{v: 1}", "{w: 1}", 1),
		"wrong kind":                strings.Replace(good, "kind: Thing", "kind: Thong", 1),
		"wrong type":                strings.Replace(good, "{v: 1}", "{v: one}", 1),
		"missing required":          strings.Replace(good, "{port: 80}", "{}", 1),
	} {
		if err := validate(t, sch, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

const miniCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor}
  versions:
    - name: v1
      served: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              properties:
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      targetPort: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
                      relabel: {type: object, x-kubernetes-preserve-unknown-fields: true}
                      tls: {type: object, nullable: true, properties: {ca: {type: string}}}
`

func TestCRDStrict(t *testing.T) {
	var sw Swagger
	if err := json.Unmarshal([]byte(miniSwagger), &sw); err != nil {
		t.Fatal(err)
	}
	meta, err := sw.Expand(ObjectMetaDefinition)
	if err != nil {
		t.Fatal(err)
	}
	out, err := CRDSchemas([]byte(miniCRD), meta)
	if err != nil {
		t.Fatal(err)
	}
	s := out[GVK{"monitoring.coreos.com", "v1", "ServiceMonitor"}]
	if s == nil {
		t.Fatalf("no schema: %v", out)
	}
	sch := compile(t, s)
	good := "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec:\n  endpoints: [{port: admin, targetPort: 9090, relabel: {anything: goes}, tls: null}, {targetPort: admin}]\n"
	if err := validate(t, sch, good); err != nil {
		t.Fatalf("good manifest rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"unknown field":             strings.Replace(good, "port: admin,", "prot: admin,", 1),
		"unknown field in metadata": strings.Replace(good, "{name: a}", "{name: a, lables: {}}", 1),
		"unknown spec field":        strings.Replace(good, "spec:\n", "spec:\n  jobLabel: x\n", 1),
		"int-or-string wrong type":  strings.Replace(good, "targetPort: 9090", "targetPort: [1]", 1),
	} {
		if err := validate(t, sch, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRealSpec generates from the real Kubernetes OpenAPI document (module cache; skipped when it cannot be
// had) and checks a Deployment with a misspelt field fails.
func TestRealSpec(t *testing.T) {
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@v1.37.2")
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var m struct{ Dir string }
	_ = json.Unmarshal(out, &m)
	if err != nil || m.Dir == "" {
		t.Skipf("k8s.io/kubernetes@v1.37.2 not available: %v", err)
	}
	sw, err := LoadSwagger(filepath.Join(m.Dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := GVK{"apps", "v1", "Deployment"}
	s, err := sw.KindSchema(sw.Kinds()[g], g)
	if err != nil {
		t.Fatal(err)
	}
	sch := compile(t, s)
	good := `apiVersion: apps/v1
kind: Deployment
metadata: {name: a, labels: {app: a}}
spec:
  selector: {matchLabels: {app: a}}
  strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
        - name: a
          image: x
          ports: [{name: admin, containerPort: 9090}]
          resources: {limits: {cpu: 1, memory: 128Mi}}
          readinessProbe: {httpGet: {path: /readyz, port: admin}}
`
	if err := validate(t, sch, good); err != nil {
		t.Fatalf("good Deployment rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"misspelt container field": strings.Replace(good, "containerPort", "containerPrt", 1),
		"misspelt probe field":     strings.Replace(good, "httpGet", "httpget", 1),
		"string replicas":          strings.Replace(good, "spec:\n  selector", "spec:\n  replicas: two\n  selector", 1),
	} {
		if err := validate(t, sch, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
