// Package schemagen turns the Kubernetes OpenAPI v2 document and CustomResourceDefinitions into strict,
// standalone JSON schemas, one per kind, named the way kubeconform looks them up with the template
// `{{ .ResourceKind }}{{ .KindSuffix }}.json` (see FileName).
//
// Strict means: every object schema that lists properties, and every CRD object schema that does not set
// x-kubernetes-preserve-unknown-fields, gets additionalProperties: false, so a misspelt or unknown field fails.
// Standalone means: every $ref is inlined; a type that refers to itself (JSONSchemaProps) is kept once under
// the file's own "definitions" and referred to locally.
package schemagen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Schema is one JSON schema node.
type Schema = map[string]any

const objectMetaRef = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

// FileName is the file kubeconform opens for a kind and apiVersion under the template
// `{{ .ResourceKind }}{{ .KindSuffix }}.json`: the lower-case kind, "-", the first dot-separated part of the
// group (or the version for the core group), and "-version" when there is a group.
// Deployment apps/v1 → deployment-apps-v1.json; Service v1 → service-v1.json;
// ServiceMonitor monitoring.coreos.com/v1 → servicemonitor-monitoring-v1.json.
func FileName(kind, apiVersion string) string {
	groupParts := strings.Split(apiVersion, "/")
	versionParts := strings.Split(groupParts[0], ".")
	suffix := "-" + strings.ToLower(versionParts[0])
	if len(groupParts) > 1 {
		suffix += "-" + strings.ToLower(groupParts[1])
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// GVK is one group/version/kind.
type GVK struct{ Group, Version, Kind string }

// APIVersion is group/version, or version alone for the core group.
func (g GVK) APIVersion() string {
	if g.Group == "" {
		return g.Version
	}
	return g.Group + "/" + g.Version
}

// Swagger holds the definitions of a Kubernetes OpenAPI v2 document.
type Swagger struct {
	Definitions map[string]Schema `json:"definitions"`
}

// LoadSwagger reads api/openapi-spec/swagger.json.
func LoadSwagger(path string) (*Swagger, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Swagger
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Definitions) == 0 {
		return nil, fmt.Errorf("%s: no definitions", path)
	}
	return &s, nil
}

// Kinds lists every definition that is a top-level kind (x-kubernetes-group-version-kind), by GVK.
// Shared option types that carry many GVKs (DeleteOptions, WatchEvent, ...) are left out.
func (s *Swagger) Kinds() map[GVK]string {
	out := map[GVK]string{}
	for name, def := range s.Definitions {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		if len(gvks) != 1 {
			continue
		}
		m, _ := gvks[0].(map[string]any)
		g := GVK{Group: str(m["group"]), Version: str(m["version"]), Kind: str(m["kind"])}
		props, _ := def["properties"].(map[string]any)
		if _, ok := props["metadata"]; !ok {
			continue // not a persisted object (e.g. the List types still have it; options types do not)
		}
		out[g] = name
	}
	return out
}

// KindSchema returns the strict standalone schema of one definition.
func (s *Swagger) KindSchema(name string, gvk GVK) (Schema, error) {
	e := &expander{defs: s.Definitions, recursive: map[string]bool{}, out: map[string]any{}}
	root, err := e.expand(name, map[string]bool{})
	if err != nil {
		return nil, err
	}
	// Definitions reached through a cycle are emitted once, themselves expanded the same way.
	for {
		var todo []string
		for n := range e.recursive {
			if _, done := e.out[n]; !done {
				todo = append(todo, n)
			}
		}
		if len(todo) == 0 {
			break
		}
		sort.Strings(todo)
		for _, n := range todo {
			e.out[n] = nil // placeholder so it is not queued again
			d, err := e.expand(n, map[string]bool{n: true})
			if err != nil {
				return nil, err
			}
			e.out[n] = d
		}
	}
	pinKind(root, gvk)
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	if len(e.out) > 0 {
		root["definitions"] = e.out
	}
	return root, nil
}

type expander struct {
	defs      map[string]Schema
	recursive map[string]bool
	out       map[string]any
}

func (e *expander) expand(name string, stack map[string]bool) (Schema, error) {
	switch name {
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return intOrString(), nil
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return Schema{"oneOf": []any{Schema{"type": "string"}, Schema{"type": "number"}}}, nil
	}
	def, ok := e.defs[name]
	if !ok {
		return nil, fmt.Errorf("unknown definition %q", name)
	}
	stack[name] = true
	defer delete(stack, name)
	n, err := e.node(def, stack)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n.(Schema), nil
}

// node converts one swagger node: refs inlined, special string formats widened, objects closed.
func (e *expander) node(v any, stack map[string]bool) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	if ref, ok := m["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		if stack[name] {
			e.recursive[name] = true
			return Schema{"$ref": "#/definitions/" + name}, nil
		}
		inl, err := e.expand(name, stack)
		if err != nil {
			return nil, err
		}
		return inl, nil
	}
	out := Schema{}
	for k, val := range m {
		switch k {
		case "x-kubernetes-group-version-kind", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
			"x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-map-type",
			"x-kubernetes-unions", "format", "description":
			continue
		case "properties":
			props := Schema{}
			for pn, pv := range val.(map[string]any) {
				c, err := e.node(pv, stack)
				if err != nil {
					return nil, err
				}
				props[pn] = c
			}
			out[k] = props
		case "items", "additionalProperties":
			c, err := e.node(val, stack)
			if err != nil {
				return nil, err
			}
			out[k] = c
		default:
			out[k] = val
		}
	}
	if str(m["format"]) == "int-or-string" {
		return intOrString(), nil
	}
	if _, hasProps := out["properties"]; hasProps {
		if _, set := out["additionalProperties"]; !set {
			out["additionalProperties"] = false
		}
		if out["type"] == nil {
			out["type"] = "object"
		}
	}
	allowNullOptional(out)
	return out, nil
}

// allowNullOptional lets a property that is not required be null, as the API server accepts.
func allowNullOptional(o Schema) {
	props, _ := o["properties"].(Schema)
	req := map[string]bool{}
	if r, ok := o["required"].([]any); ok {
		for _, x := range r {
			req[str(x)] = true
		}
	}
	for name, p := range props {
		if req[name] {
			continue
		}
		ps, ok := p.(Schema)
		if !ok {
			continue
		}
		if t, ok := ps["type"].(string); ok {
			ps["type"] = []any{t, "null"}
		} else if one, ok := ps["oneOf"].([]any); ok && !hasNull(one) {
			ps["oneOf"] = append(one, Schema{"type": "null"})
		}
	}
}

func hasNull(alts []any) bool {
	for _, a := range alts {
		if m, ok := a.(Schema); ok && m["type"] == "null" {
			return true
		}
	}
	return false
}

func intOrString() Schema {
	return Schema{"oneOf": []any{Schema{"type": "string"}, Schema{"type": "integer"}}}
}

// pinKind makes apiVersion and kind required and fixed to the GVK of the file.
func pinKind(root Schema, gvk GVK) {
	props, _ := root["properties"].(Schema)
	if props == nil {
		return
	}
	props["apiVersion"] = Schema{"type": "string", "enum": []any{gvk.APIVersion()}}
	props["kind"] = Schema{"type": "string", "enum": []any{gvk.Kind}}
	req, _ := root["required"].([]any)
	have := map[string]bool{}
	for _, r := range req {
		have[str(r)] = true
	}
	for _, r := range []string{"apiVersion", "kind"} {
		if !have[r] {
			req = append(req, r)
		}
	}
	root["required"] = req
}

// CRDSchemas returns the strict schema of every served version of a CustomResourceDefinition file, keyed by
// GVK. objectMeta, when not nil, replaces the CRD's open `metadata: {type: object}`.
func CRDSchemas(crdYAML []byte, objectMeta Schema) (map[GVK]Schema, error) {
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema Schema `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(crdYAML, &crd); err != nil {
		return nil, err
	}
	if crd.Kind != "CustomResourceDefinition" {
		return nil, fmt.Errorf("not a CustomResourceDefinition: kind %q", crd.Kind)
	}
	out := map[GVK]Schema{}
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		gvk := GVK{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		root := strictCRD(v.Schema.OpenAPIV3Schema).(Schema)
		if props, ok := root["properties"].(Schema); ok && objectMeta != nil {
			props["metadata"] = deepCopy(objectMeta)
		}
		if root["type"] == nil {
			root["type"] = "object"
		}
		pinKind(root, gvk)
		root["$schema"] = "http://json-schema.org/draft-07/schema#"
		out[gvk] = root
	}
	return out, nil
}

// strictCRD converts one structural-schema node: int-or-string and nullable expressed in JSON schema, and
// objects closed unless they preserve unknown fields.
func strictCRD(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := Schema{}
	for k, val := range m {
		switch k {
		case "description", "format", "x-kubernetes-validations", "x-kubernetes-list-map-keys",
			"x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-int-or-string",
			"x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "nullable":
			continue
		case "properties", "patternProperties":
			props := Schema{}
			for pn, pv := range val.(map[string]any) {
				props[pn] = strictCRD(pv)
			}
			out[k] = props
		case "items", "additionalProperties", "not":
			out[k] = strictCRD(val)
		case "allOf", "anyOf", "oneOf":
			var alts []any
			for _, a := range val.([]any) {
				alts = append(alts, strictCRD(a))
			}
			out[k] = alts
		default:
			out[k] = val
		}
	}
	if m["x-kubernetes-int-or-string"] == true {
		rest := out
		delete(rest, "type")
		alts := []any{Schema{"type": "string"}, Schema{"type": "integer"}}
		if m["nullable"] == true {
			alts = append(alts, Schema{"type": "null"})
		}
		rest["anyOf"] = alts
		return rest
	}
	preserve := m["x-kubernetes-preserve-unknown-fields"] == true
	if str(m["type"]) == "object" && !preserve {
		if _, set := out["additionalProperties"]; !set {
			out["additionalProperties"] = false
		}
	}
	if m["nullable"] == true {
		if t, ok := out["type"].(string); ok {
			out["type"] = []any{t, "null"}
		}
	}
	return out
}

func deepCopy(s Schema) Schema {
	b, _ := json.Marshal(s)
	var out Schema
	_ = json.Unmarshal(b, &out)
	return out
}

// Write writes one schema as indented JSON into dir under FileName.
func Write(dir string, gvk GVK, s Schema) (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, FileName(gvk.Kind, gvk.APIVersion()))
	return p, os.WriteFile(p, append(b, '\n'), 0o644)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Expand returns one definition with every $ref inlined (it must not be recursive), for use inside other
// schemas, such as ObjectMeta for custom resources.
func (s *Swagger) Expand(name string) (Schema, error) {
	e := &expander{defs: s.Definitions, recursive: map[string]bool{}, out: map[string]any{}}
	n, err := e.expand(name, map[string]bool{})
	if err != nil {
		return nil, err
	}
	if len(e.recursive) > 0 {
		return nil, fmt.Errorf("%s is recursive", name)
	}
	return n, nil
}

// ObjectMetaDefinition is the swagger name of ObjectMeta.
const ObjectMetaDefinition = objectMetaRef
