package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
	kindconfig "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// The kind cluster of `make kind-up` (k8s/kind/cluster.yaml), read with kind's own v1alpha4 types
// (sigs.k8s.io/kind, the version in go.mod) exactly as kind's loader reads it: go.yaml.in/yaml/v3 with unknown
// fields refused, one document. Checked:
//   - every node's image is kindest/node:vX.Y.Z pinned by a sha256 digest (and, for the tag of kind's default
//     image, that default's digest);
//   - every kubeadmConfigPatches document (cluster and node level) is strict YAML, a mapping of a kind that kind
//     generates, with the apiVersion kind generates for the node's Kubernetes (or none), so that it applies;
//   - KubeletConfiguration patches name only fields of the kubelet's KubeletConfiguration (k8s.io/kubelet
//     config/v1beta1 of the node image's Kubernetes version, read from the module's source) and, applied in kind's
//     order (cluster-level, then the node's), leave failCgroupV1 false on every node (Kubernetes >= 1.35 refuses
//     cgroup v1 hosts otherwise);
//   - every extraPortMapping listens on 127.0.0.1 (as does the API server), and the gateway's NodePort of
//     charts/messenger values-kind.yaml maps to 127.0.0.1:8080 over TCP.

// KindGatewayHostPort is the host port of the gateway's NodePort on kind (README "Run on Kubernetes",
// skaffold.yaml, scripts/dev-cluster-up.sh).
const KindGatewayHostPort = 8080

func TestKindClusterConfig(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "k8s", "kind", "cluster.yaml")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skip("k8s/kind/cluster.yaml does not exist")
	}
	if err != nil {
		t.Fatal(err)
	}
	nodePort, p := kindValuesNodePort(t, root)
	p = append(p, checkKindConfig(data, nodePort, kubeletFieldsFromModule(t))...)
	for _, e := range p {
		t.Error(e)
	}
}

// kindValuesNodePort is the gateway's NodePort with charts/messenger/values-kind.yaml (its default from
// values.yaml when values-kind.yaml does not set it); the NodePort Service must be enabled there.
func kindValuesNodePort(t *testing.T, root string) (int32, Problems) {
	t.Helper()
	var p Problems
	read := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join(root, "charts", "messenger", name))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	kind, defaults := read("values-kind.yaml"), read("values.yaml")
	if enabled, _ := boolOf(get(kind, "nodePort", "enabled")); !enabled {
		p.add("charts/messenger/values-kind.yaml: nodePort.enabled is not true: no NodePort for the kind cluster's port mapping")
	}
	port := get(kind, "nodePort", "port")
	if port == nil {
		port = get(defaults, "nodePort", "port")
	}
	n, err := strconv.ParseInt(str(port), 10, 32)
	if err != nil || n < 30000 || n > 32767 {
		t.Fatalf("charts/messenger: nodePort.port %q is not a NodePort (30000-32767)", str(port))
	}
	return int32(n), p
}

// kubeletFieldsFunc gives the top-level JSON fields (name -> Go type) of KubeletConfiguration for a Kubernetes
// version "1.37.0".
type kubeletFieldsFunc func(version string) (map[string]string, error)

// kubeletFieldsFromModule reads KubeletConfiguration from k8s.io/kubelet v0.<minor>.<patch> (the staging module
// released with Kubernetes 1.<minor>.<patch>) in the module cache, downloading it once through the module proxy.
func kubeletFieldsFromModule(t *testing.T) kubeletFieldsFunc {
	cache := map[string]map[string]string{}
	return func(version string) (map[string]string, error) {
		if f, ok := cache[version]; ok {
			return f, nil
		}
		dir := moduleDir(t, "k8s.io/kubelet@v0."+strings.TrimPrefix(version, "1."))
		f, err := kubeletConfigFields(filepath.Join(dir, "config", "v1beta1", "types.go"))
		if err != nil {
			return nil, err
		}
		cache[version] = f
		return f, nil
	}
}

// kubeletConfigFields parses a Go source file and returns the JSON field names of its KubeletConfiguration struct,
// with their Go types (the embedded metav1.TypeMeta gives kind and apiVersion).
func kubeletConfigFields(file string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var st *ast.StructType
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == "KubeletConfiguration" {
			st, _ = ts.Type.(*ast.StructType)
		}
		return st == nil
	})
	if st == nil {
		return nil, fmt.Errorf("%s: no struct KubeletConfiguration", file)
	}
	fields := map[string]string{}
	for _, fl := range st.Fields.List {
		typ := types.ExprString(fl.Type)
		if len(fl.Names) == 0 {
			if typ != "metav1.TypeMeta" {
				return nil, fmt.Errorf("%s: KubeletConfiguration embeds %s, not understood here", file, typ)
			}
			fields["kind"], fields["apiVersion"] = "string", "string"
			continue
		}
		tag := ""
		if fl.Tag != nil {
			tag, _ = strconv.Unquote(fl.Tag.Value)
		}
		name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
		if name == "-" {
			continue
		}
		for _, id := range fl.Names {
			if !id.IsExported() {
				continue
			}
			n := name
			if n == "" {
				n = id.Name
			}
			fields[n] = typ
		}
	}
	return fields, nil
}

var kindNodeImage = regexp.MustCompile(`^kindest/node:v(1\.(\d+)\.\d+)@sha256:[0-9a-f]{64}$`)

// kindGeneratedAPIVersion is the apiVersion of each document of the kubeadm config that kind generates for a node
// of Kubernetes 1.<minor> (sigs.k8s.io/kind v0.33.0 pkg/cluster/internal/kubeadm/config.go). A patch applies to
// the document of its kind, and only if it sets no apiVersion or this one.
func kindGeneratedAPIVersion(kind string, minor int) string {
	switch kind {
	case "ClusterConfiguration", "InitConfiguration", "JoinConfiguration":
		switch {
		case minor < 23:
			return "kubeadm.k8s.io/v1beta2"
		case minor < 36:
			return "kubeadm.k8s.io/v1beta3"
		}
		return "kubeadm.k8s.io/v1beta4"
	case "KubeletConfiguration":
		return "kubelet.config.k8s.io/v1beta1"
	case "KubeProxyConfiguration":
		return "kubeproxy.config.k8s.io/v1alpha1"
	}
	return ""
}

// kindPatchDocs splits a kubeadmConfigPatches entry into documents as kind does (at lines starting with ---) and
// converts each to JSON with sigs.k8s.io/yaml (kind's converter), strictly: duplicate keys are errors.
func kindPatchDocs(patch string) ([]map[string]any, error) {
	var docs []map[string]any
	for i, raw := range regexp.MustCompile(`(?m)^---.*$`).Split(patch, -1) {
		if strings.TrimSpace(raw) == "" && i > 0 {
			continue // an empty document after a separator: kind applies nothing
		}
		j, err := yaml.YAMLToJSONStrict([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil || m == nil {
			return nil, fmt.Errorf("document %d is not a mapping", i)
		}
		docs = append(docs, m)
	}
	return docs, nil
}

// checkKindConfig checks a kind cluster config (see the comment at the top of this file).
func checkKindConfig(data []byte, nodePort int32, kubeletFields kubeletFieldsFunc) Problems {
	var p Problems
	var c kindconfig.Cluster
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		p.add("not a kind v1alpha4 Cluster (strict decoding, as kind loads it): %v", err)
		return p
	}
	var next any
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		p.add("more than one YAML document (kind reads only the first)")
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		p.add("apiVersion %q kind %q, want kind.x-k8s.io/v1alpha4 Cluster", c.APIVersion, c.Kind)
	}
	if len(c.Nodes) == 0 {
		p.add("no nodes: kind would create one from its own default image, not a pinned one")
	}
	if a := c.Networking.APIServerAddress; a != "" && a != "127.0.0.1" {
		p.add("networking.apiServerAddress %q, want 127.0.0.1 (or unset)", a)
	}

	type patchDoc struct {
		where string
		doc   map[string]any
	}
	parse := func(where string, patches []string) []patchDoc {
		var out []patchDoc
		for i, raw := range patches {
			docs, err := kindPatchDocs(raw)
			if err != nil {
				p.add("%s kubeadmConfigPatches[%d]: %v", where, i, err)
				continue
			}
			for _, d := range docs {
				out = append(out, patchDoc{fmt.Sprintf("%s kubeadmConfigPatches[%d] (%s)", where, i, str(d["kind"])), d})
			}
		}
		return out
	}
	clusterPatches := parse("cluster", c.KubeadmConfigPatches)

	defaultTag, _, _ := strings.Cut(kinddefaults.Image, "@")
	reported := map[string]bool{} // a cluster-level problem once, not once per node
	report := func(key, format string, args ...any) {
		if !reported[key] {
			reported[key] = true
			p.add(format, args...)
		}
	}
	mappedNodePort := false
	for n, node := range c.Nodes {
		where := fmt.Sprintf("node %d (%s)", n, node.Role)
		m := kindNodeImage.FindStringSubmatch(node.Image)
		if m == nil {
			p.add("%s: image %q is not kindest/node:vX.Y.Z pinned by @sha256:<digest> (unset means kind's default, which moves with kind)", where, node.Image)
		} else if tag, _, _ := strings.Cut(node.Image, "@"); tag == defaultTag && node.Image != kinddefaults.Image {
			p.add("%s: image %q: the default image of sigs.k8s.io/kind (deploy/verify/go.mod) pins %s to %s", where, node.Image, tag, kinddefaults.Image)
		}

		// The kubeadm patches, in kind's order: cluster-level first, then the node's own.
		failCgroupV1 := "unset (the kubelet's default: true)"
		for _, pd := range append(append([]patchDoc{}, clusterPatches...), parse(where, node.KubeadmConfigPatches)...) {
			kind, apiVersion := str(pd.doc["kind"]), str(pd.doc["apiVersion"])
			if m == nil {
				continue // no Kubernetes version to check against
			}
			version := m[1]
			minor, _ := strconv.Atoi(m[2])
			want := kindGeneratedAPIVersion(kind, minor)
			if want == "" {
				report(pd.where+"/kind", "%s: kind %q is not a document kind generates (Cluster/Init/JoinConfiguration, KubeletConfiguration, KubeProxyConfiguration): the patch applies to nothing", pd.where, kind)
				continue
			}
			if apiVersion != "" && apiVersion != want {
				report(pd.where+"/apiVersion/"+want, "%s: apiVersion %q, but kind generates %s for Kubernetes %s: the patch applies to nothing", pd.where, apiVersion, want, version)
				continue
			}
			if kind != "KubeletConfiguration" {
				continue
			}
			fields, err := kubeletFields(version)
			if err != nil {
				p.add("%s: KubeletConfiguration of Kubernetes %s: %v", where, version, err)
				continue
			}
			for k := range pd.doc {
				if _, ok := fields[k]; !ok {
					report(pd.where+"/field/"+k+"/"+version, "%s: %q is not a field of KubeletConfiguration (kubelet.config.k8s.io/v1beta1, Kubernetes %s)", pd.where, k, version)
				}
			}
			if v, ok := pd.doc["failCgroupV1"]; ok {
				switch b := v.(type) {
				case nil:
					failCgroupV1 = "unset (the kubelet's default: true)" // a JSON merge patch's null deletes the field
				case bool:
					failCgroupV1 = strconv.FormatBool(b)
				default:
					report(pd.where+"/failCgroupV1", "%s: failCgroupV1 %#v is not a boolean", pd.where, v)
				}
			}
		}
		if m != nil && failCgroupV1 != "false" {
			p.add("%s: failCgroupV1 is %s after kind's patches: the kubelet of Kubernetes >= 1.35 does not start on cgroup v1 hosts; add a kubeadmConfigPatches document `kind: KubeletConfiguration` with `failCgroupV1: false`", where, failCgroupV1)
		}

		for i, pm := range node.ExtraPortMappings {
			if pm.ListenAddress != "127.0.0.1" {
				p.add("%s: extraPortMappings[%d] (containerPort %d -> hostPort %d) listens on %q, want 127.0.0.1 (unset means every address)", where, i, pm.ContainerPort, pm.HostPort, pm.ListenAddress)
			}
			if pm.ContainerPort != nodePort {
				continue
			}
			mappedNodePort = true
			if pm.HostPort != KindGatewayHostPort {
				p.add("%s: extraPortMappings[%d] maps the gateway's NodePort %d to hostPort %d, want %d", where, i, nodePort, pm.HostPort, KindGatewayHostPort)
			}
			if pm.Protocol != "" && pm.Protocol != kindconfig.PortMappingProtocolTCP {
				p.add("%s: extraPortMappings[%d] maps the gateway's NodePort %d over %s, want TCP", where, i, nodePort, pm.Protocol)
			}
		}
	}
	if !mappedNodePort {
		p.add("no extraPortMappings maps the gateway's NodePort %d (charts/messenger values-kind.yaml) to 127.0.0.1:%d", nodePort, KindGatewayHostPort)
	}
	return p
}

// kindFixture is a correct kind config shaped like k8s/kind/cluster.yaml; TestKindConfigChecksFire breaks it one
// way at a time.
const kindFixture = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: messenger
kubeadmConfigPatches:
  - |
    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    failCgroupV1: false
nodes:
  - role: control-plane
    image: kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5
    kubeadmConfigPatches:
      - |
        kind: InitConfiguration
        nodeRegistration:
          kubeletExtraArgs:
            node-labels: "ingress-ready=true"
    extraPortMappings:
      - containerPort: 30080
        hostPort: 8080
        listenAddress: "127.0.0.1"
        protocol: TCP
      - containerPort: 80
        hostPort: 80
        listenAddress: "127.0.0.1"
        protocol: TCP
`

func TestKindConfigChecksFire(t *testing.T) {
	fields := func(version string) (map[string]string, error) {
		if version != "1.37.0" {
			return nil, fmt.Errorf("unexpected version %s", version)
		}
		return map[string]string{"kind": "string", "apiVersion": "string", "failCgroupV1": "*bool", "maxPods": "int32"}, nil
	}
	const kubeletPatch = "    apiVersion: kubelet.config.k8s.io/v1beta1\n    kind: KubeletConfiguration\n    failCgroupV1: false\n"
	const nodePatches = "    kubeadmConfigPatches:\n      - |\n        kind: InitConfiguration\n"
	nodeKubeletPatch := func(value string) string { // a node-level KubeletConfiguration patch before the node's own
		return "    kubeadmConfigPatches:\n      - |\n        kind: KubeletConfiguration\n        failCgroupV1: " + value +
			"\n      - |\n        kind: InitConfiguration\n"
	}
	cases := []struct{ name, old, new, want string }{
		{"correct", "", "", ""},
		{"unknown field", "name: messenger", "name: messenger\nnetworkin: {}", "field networkin not found"},
		{"unknown port mapping field", "hostPort: 8080", "hostPort: 8080\n        listenAdress: 127.0.0.1", "field listenAdress not found"},
		{"bad protocol", "protocol: TCP\n      - containerPort: 80", "protocol: TPC\n      - containerPort: 80", "Unknown PortMappingProtocol"},
		{"second document", "", "---\nkind: Cluster\n", "more than one YAML document"},
		{"wrong apiVersion", "kind.x-k8s.io/v1alpha4", "kind.x-k8s.io/v1alpha3", "want kind.x-k8s.io/v1alpha4 Cluster"},
		{"image unpinned", "@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5", "", "is not kindest/node:vX.Y.Z pinned"},
		{"image unset", "    image: kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5\n", "", `image "" is not kindest/node`},
		{"image not kindest/node", "kindest/node:v1.37.0", "example.com/node:v1.37.0", "is not kindest/node:vX.Y.Z pinned"},
		{"short digest", "580ae5\n", "580ae\n", "is not kindest/node:vX.Y.Z pinned"},
		{"digest not kind's for its tag", "580ae5\n", "580ae6\n", "sigs.k8s.io/kind"},
		{"patch not YAML", "node-labels: \"ingress-ready=true\"", "node-labels: [\"ingress-ready=true\"", "kubeadmConfigPatches[0]: document 0"},
		{"patch duplicate key", "    failCgroupV1: false\n", "    failCgroupV1: false\n    failCgroupV1: false\n", "kubeadmConfigPatches[0]: document 0"},
		{"patch not a mapping", "        kind: InitConfiguration\n        nodeRegistration:\n          kubeletExtraArgs:\n            node-labels: \"ingress-ready=true\"\n", "        - just a list\n", "is not a mapping"},
		{"patch kind misspelt", "kind: KubeletConfiguration", "kind: KubeletConfig", `kind "KubeletConfig" is not a document kind generates`},
		{"patch apiVersion wrong", "kubelet.config.k8s.io/v1beta1", "kubelet.config.k8s.io/v1", `apiVersion "kubelet.config.k8s.io/v1", but kind generates kubelet.config.k8s.io/v1beta1`},
		{"kubeadm apiVersion of another Kubernetes", "        kind: InitConfiguration\n", "        apiVersion: kubeadm.k8s.io/v1beta3\n        kind: InitConfiguration\n", "but kind generates kubeadm.k8s.io/v1beta4 for Kubernetes 1.37.0"},
		{"kubelet field misspelt", "failCgroupV1: false", "failCgroupv1: false", `"failCgroupv1" is not a field of KubeletConfiguration`},
		{"failCgroupV1 true", "failCgroupV1: false", "failCgroupV1: true", "failCgroupV1 is true after kind's patches"},
		{"failCgroupV1 a string", "failCgroupV1: false", `failCgroupV1: "false"`, "is not a boolean"},
		{"kubelet patch missing", kubeletPatch, "    kind: KubeProxyConfiguration\n", "failCgroupV1 is unset"},
		{"node patch undoes it", nodePatches, nodeKubeletPatch("null"), "failCgroupV1 is unset"},
		{"listen everywhere", "listenAddress: \"127.0.0.1\"\n        protocol: TCP\n      - containerPort: 80", "listenAddress: \"0.0.0.0\"\n        protocol: TCP\n      - containerPort: 80", `listens on "0.0.0.0"`},
		{"listen unset", "        listenAddress: \"127.0.0.1\"\n", "", `listens on ""`},
		{"API server exposed", "name: messenger", "name: messenger\nnetworking: {apiServerAddress: 0.0.0.0}", "apiServerAddress"},
		{"NodePort to another host port", "hostPort: 8080", "hostPort: 8081", "to hostPort 8081, want 8080"},
		{"NodePort over UDP", "protocol: TCP\n      - containerPort: 80", "protocol: UDP\n      - containerPort: 80", "over UDP, want TCP"},
		{"NodePort not mapped", "containerPort: 30080", "containerPort: 30081", "no extraPortMappings maps the gateway's NodePort 30080"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kindFixture
			switch {
			case tc.old == "" && tc.new != "":
				cfg += tc.new
			case tc.old != "":
				if !strings.Contains(cfg, tc.old) {
					t.Fatalf("fixture has no %q", tc.old)
				}
				cfg = strings.Replace(cfg, tc.old, tc.new, 1)
			}
			p := checkKindConfig([]byte(cfg), 30080, fields)
			if tc.want == "" {
				if len(p) != 0 {
					t.Fatalf("problems in a correct config: %v", p)
				}
				return
			}
			for _, e := range p {
				if strings.Contains(e, tc.want) {
					return
				}
			}
			t.Fatalf("want a problem containing %q, got %q", tc.want, p)
		})
	}
	// The cluster-level patch moved to the node: still correct (kind applies both levels).
	cfg := strings.Replace(kindFixture, kubeletPatch, "    kind: KubeProxyConfiguration\n", 1)
	cfg = strings.Replace(cfg, nodePatches, nodeKubeletPatch("false"), 1)
	if p := checkKindConfig([]byte(cfg), 30080, fields); len(p) != 0 || cfg == kindFixture {
		t.Errorf("a node-level failCgroupV1: false patch: %v", p)
	}
}
