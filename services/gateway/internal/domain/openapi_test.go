package domain

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestRouteTableAndOpenAPIDocumentAgree keeps api/openapi.yaml and the gateway's routes from drifting apart:
// every documented operation is routed, every route is documented, and the document's security matches
// which routes need a token.
func TestRouteTableAndOpenAPIDocumentAgree(t *testing.T) {
	raw, err := os.ReadFile("../../../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Security []map[string]any `yaml:"security"`
		Paths    map[string]map[string]yaml.Node
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Security) == 0 {
		t.Fatal("the document has no default security requirement")
	}
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	documented := map[string]bool{} // "METHOD /path/:param" -> public
	for path, item := range doc.Paths {
		ginPath := param.ReplaceAllString(path, ":$1")
		for method, node := range item {
			m := strings.ToUpper(method)
			switch m {
			case "GET", "POST", "PUT", "PATCH", "DELETE":
			default:
				continue
			}
			var op struct {
				Security *[]map[string]any `yaml:"security"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatal(err)
			}
			documented[m+" "+ginPath] = op.Security != nil && len(*op.Security) == 0
		}
	}
	// The WebSocket upgrade is served by the gateway itself, not forwarded.
	delete(documented, "GET /api/v1/ws")

	routed := map[string]bool{}
	for _, r := range Routes {
		// gin names parameters per path segment; the document may name the same segment differently
		// (/users/{id} vs /users/:id): compare with parameter names erased.
		routed[r.Method+" "+r.Path] = r.Public
	}
	norm := func(m map[string]bool) map[string]bool {
		out := map[string]bool{}
		re := regexp.MustCompile(`:[a-z_]+`)
		for k, v := range m {
			out[re.ReplaceAllString(k, ":p")] = v
		}
		return out
	}
	d, r := norm(documented), norm(routed)
	var missing, undocumented, security []string
	for k, public := range d {
		if rp, ok := r[k]; !ok {
			missing = append(missing, k)
		} else if rp != public {
			security = append(security, k)
		}
	}
	for k := range r {
		if _, ok := d[k]; !ok {
			undocumented = append(undocumented, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(undocumented)
	sort.Strings(security)
	if len(missing) > 0 {
		t.Errorf("documented but not routed: %v", missing)
	}
	if len(undocumented) > 0 {
		t.Errorf("routed but not documented: %v", undocumented)
	}
	if len(security) > 0 {
		t.Errorf("token requirement differs between the document and the route table: %v", security)
	}
}
