// Package verify checks rendered Kubernetes manifests (helm template, kubectl kustomize) for the properties
// that a schema cannot express: selectors that match, ports that exist, probes on the admin port, hardened
// containers, and NetworkPolicies that allow exactly the calls the services make.
package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object.
type Object struct {
	Source string // file it came from
	Doc    map[string]any
}

func (o Object) Kind() string       { return str(o.Doc["kind"]) }
func (o Object) APIVersion() string { return str(o.Doc["apiVersion"]) }
func (o Object) Name() string       { return str(get(o.Doc, "metadata", "name")) }
func (o Object) Namespace() string  { return str(get(o.Doc, "metadata", "namespace")) }
func (o Object) String() string     { return fmt.Sprintf("%s/%s (%s)", o.Kind(), o.Name(), o.Source) }

// ParseYAML splits a multi-document YAML stream into objects (empty documents and Lists are flattened away).
func ParseYAML(source string, data []byte) ([]Object, error) {
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	var out []Object
	for i := 0; ; i++ {
		var raw any
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if raw == nil {
			continue
		}
		// Round-trip through JSON so maps are map[string]any and numbers are float64/int64 as in the API.
		b, err := yamlv2.Marshal(raw)
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i, err)
		}
		if len(doc) == 0 {
			continue
		}
		if items, ok := doc["items"].([]any); ok && strings.HasSuffix(str(doc["kind"]), "List") {
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					out = append(out, Object{Source: source, Doc: m})
				}
			}
			continue
		}
		out = append(out, Object{Source: source, Doc: doc})
	}
	return out, nil
}

// LoadSets reads every .yaml/.yml file under dir and groups the objects into rendered sets: a file directly
// under dir or one level down (dir/helm/kind.yaml) is a set of its own; deeper files are grouped by their first
// two path elements (dir/helm/kind/...), as `helm template --output-dir` writes one file per template.
func LoadSets(dir string) (map[string][]Object, error) {
	sets := map[string][]Object{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		key := rel
		if len(parts) > 2 {
			key = parts[0] + "/" + parts[1]
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		objs, err := ParseYAML(rel, b)
		if err != nil {
			return err
		}
		sets[key] = append(sets[key], objs...)
		return nil
	})
	return sets, err
}

// SortedKeys returns the set names in order.
func SortedKeys(m map[string][]Object) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PodTemplate returns the pod template (metadata+spec) of a workload, or nil for other kinds.
func PodTemplate(o Object) map[string]any {
	switch o.Kind() {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		m, _ := get(o.Doc, "spec", "template").(map[string]any)
		return m
	case "CronJob":
		m, _ := get(o.Doc, "spec", "jobTemplate", "spec", "template").(map[string]any)
		return m
	case "Pod":
		return map[string]any{"metadata": o.Doc["metadata"], "spec": o.Doc["spec"]}
	}
	return nil
}

// Containers returns the containers and init containers of a pod spec.
func Containers(podSpec map[string]any, withInit bool) []map[string]any {
	var out []map[string]any
	keys := []string{"containers"}
	if withInit {
		keys = append(keys, "initContainers")
	}
	for _, k := range keys {
		for _, c := range list(podSpec[k]) {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// Selector is a label selector (matchLabels and matchExpressions).
type Selector map[string]any

// Matches reports whether labels satisfy the selector. An empty selector matches everything.
func (s Selector) Matches(labels map[string]any) bool {
	for k, v := range mapOf(s["matchLabels"]) {
		if str(labels[k]) != str(v) {
			return false
		}
	}
	for _, e := range list(s["matchExpressions"]) {
		em := mapOf(e)
		key, op := str(em["key"]), str(em["operator"])
		val, has := labels[key]
		in := false
		for _, x := range list(em["values"]) {
			if has && str(x) == str(val) {
				in = true
			}
		}
		switch op {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Empty reports whether the selector has no terms.
func (s Selector) Empty() bool {
	return len(mapOf(s["matchLabels"])) == 0 && len(list(s["matchExpressions"])) == 0
}

func get(m any, path ...string) any {
	cur := m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprintf("%v", x)
	default:
		return fmt.Sprintf("%v", x)
	}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func boolOf(v any) (value, set bool) {
	b, ok := v.(bool)
	return b, ok
}
