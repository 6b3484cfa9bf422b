package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CRDFromJSONSchema wraps one of the project's own strict JSON schemas (k8s/schemas/<kind>-<group>-<version>.json,
// draft-07, for kubeconform) as a CustomResourceDefinition (apiextensions.k8s.io/v1) whose openAPIV3Schema is the
// same schema made structural, so a real kube-apiserver can check the operators' objects too (make k8s-verify).
//
// The group, version and kind come from the schema's pinned apiVersion and kind (`const`). What a structural
// schema forbids or OpenAPI v3.0 lacks is rewritten or dropped:
//   - the root's apiVersion, kind and metadata properties (the server owns them; metadata is checked as ObjectMeta);
//   - `additionalProperties: false` (the server prunes unknown fields, and fieldValidation=Strict turns a pruned
//     field into an error, which is the same strictness);
//   - `const` becomes a one-value `enum`; a node with only `enum` gets the values' type;
//   - an `anyOf` of string and integer/number branches (a Quantity or an int-or-percent) becomes
//     `x-kubernetes-int-or-string: true` with the structural anyOf [integer, string]; the string branch's pattern
//     and the integer branch's minimum move up (OpenAPI applies each only to values of its type);
//   - `$schema`, `$id` and `title` are dropped.
//
// Any other keyword the function does not know is an error, so nothing is lost silently.
func CRDFromJSONSchema(schema []byte, plural string) (map[string]any, error) {
	var s map[string]any
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, err
	}
	props := mapOf(s["properties"])
	apiVersion := str(mapOf(props["apiVersion"])["const"])
	kind := str(mapOf(props["kind"])["const"])
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok || kind == "" {
		return nil, fmt.Errorf("the schema pins no group/version apiVersion and kind (const): %q %q", apiVersion, kind)
	}
	root, err := structural(s, "")
	if err != nil {
		return nil, err
	}
	rootProps := mapOf(root["properties"])
	for _, k := range []string{"apiVersion", "kind", "metadata"} {
		delete(rootProps, k)
	}
	var required []any
	for _, r := range list(root["required"]) {
		if r != "apiVersion" && r != "kind" && r != "metadata" {
			required = append(required, r)
		}
	}
	if len(required) > 0 {
		root["required"] = required
	} else {
		delete(root, "required")
	}
	if plural == "" {
		plural = strings.ToLower(kind) + "s"
	}
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group,
			"scope": "Namespaced",
			"names": map[string]any{
				"kind":     kind,
				"listKind": kind + "List",
				"plural":   plural,
				"singular": strings.ToLower(kind),
			},
			"versions": []any{map[string]any{
				"name": version, "served": true, "storage": true,
				"schema":       map[string]any{"openAPIV3Schema": root},
				"subresources": map[string]any{"status": map[string]any{}},
			}},
		},
	}, nil
}

// CRDsFromSchemaDir converts every *.json of dir (k8s/schemas) with CRDFromJSONSchema.
func CRDsFromSchemaDir(dir string) ([]map[string]any, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.json in %s", dir)
	}
	sort.Strings(files)
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		crd, err := CRDFromJSONSchema(b, "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, crd)
	}
	return out, nil
}

// keywords kept as they are (OpenAPI v3.0 / JSONSchemaProps names with the same meaning as in draft-07).
var keptKeywords = map[string]bool{
	"type": true, "format": true, "description": true, "required": true, "enum": true, "pattern": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true, "minItems": true, "maxItems": true,
	"uniqueItems": true, "minProperties": true, "maxProperties": true, "multipleOf": true, "default": true,
}

func structural(s map[string]any, path string) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range s {
		switch {
		case keptKeywords[k]:
			out[k] = v
		case k == "$schema" || k == "$id" || k == "title":
		case k == "const":
			out["enum"] = []any{v}
		case k == "properties":
			ps := map[string]any{}
			for name, p := range mapOf(v) {
				c, err := structural(mapOf(p), path+"."+name)
				if err != nil {
					return nil, err
				}
				ps[name] = c
			}
			out[k] = ps
		case k == "items":
			c, err := structural(mapOf(v), path+"[]")
			if err != nil {
				return nil, err
			}
			out[k] = c
		case k == "additionalProperties":
			switch a := v.(type) {
			case bool:
				if a {
					out["x-kubernetes-preserve-unknown-fields"] = true
				}
			case map[string]any:
				c, err := structural(a, path+"{}")
				if err != nil {
					return nil, err
				}
				out[k] = c
			}
		case k == "anyOf":
			if err := intOrString(list(v), out, path); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: keyword %q has no structural rendition here (teach CRDFromJSONSchema)", orRoot(path), k)
		}
	}
	if _, typed := out["type"]; !typed && out["x-kubernetes-int-or-string"] == nil {
		t := ""
		for _, e := range list(out["enum"]) {
			var et string
			switch e.(type) {
			case string:
				et = "string"
			case bool:
				et = "boolean"
			case float64:
				et = "number"
			}
			if t == "" {
				t = et
			} else if et != t {
				t = "?"
			}
		}
		switch {
		case t != "" && t != "?":
			out["type"] = t
		case out["properties"] != nil || out["additionalProperties"] != nil:
			out["type"] = "object"
		default:
			return nil, fmt.Errorf("%s: no type, and none can be derived", orRoot(path))
		}
	}
	return out, nil
}

// intOrString rewrites anyOf [string, integer(, number)] as x-kubernetes-int-or-string.
func intOrString(branches []any, out map[string]any, path string) error {
	var str, num bool
	for _, b := range branches {
		bm := mapOf(b)
		for k, v := range bm {
			switch {
			case k == "type" && v == "string":
				str = true
			case k == "type" && (v == "integer" || v == "number"):
				num = true
			case k == "pattern" || k == "minimum" || k == "maximum":
				out[k] = v
			case k == "type":
				return fmt.Errorf("%s: anyOf branch of type %v", orRoot(path), v)
			default:
				return fmt.Errorf("%s: anyOf branch keyword %q", orRoot(path), k)
			}
		}
	}
	if !str || !num {
		return fmt.Errorf("%s: only anyOf [string, integer] is supported", orRoot(path))
	}
	out["x-kubernetes-int-or-string"] = true
	out["anyOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
	return nil
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}
