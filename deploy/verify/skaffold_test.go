package verify

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SkaffoldModule carries skaffold's JSON schemas (docs-v2/content/en/schemas/<version>.json).
const SkaffoldModule = "github.com/GoogleContainerTools/skaffold/v2@v2.16.1"

func TestSkaffoldYAML(t *testing.T) {
	path := filepath.Join(repoRoot(t), "skaffold.yaml")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skip("skaffold.yaml does not exist yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkSkaffold(t, filepath.Dir(path), data) {
		t.Error(p)
	}
}

// checkSkaffold validates every document of a skaffold.yaml against the schema of its apiVersion, then checks
// that the paths it names exist and that image templates name built artifacts.
func checkSkaffold(t *testing.T, root string, data []byte) Problems {
	t.Helper()
	var p Problems
	docs, err := ParseYAML("skaffold.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		p.add("skaffold.yaml holds no document")
	}
	schemaDir := filepath.Join(moduleDir(t, SkaffoldModule), "docs-v2", "content", "en", "schemas")
	compiled := map[string]*jsonschema.Schema{}
	images := map[string]bool{}
	for i, d := range docs {
		v := d.APIVersion()
		if !strings.HasPrefix(v, "skaffold/") || d.Kind() != "Config" {
			p.add("document %d: apiVersion %q kind %q, want skaffold/<version> Config", i, v, d.Kind())
			continue
		}
		sch, ok := compiled[v]
		if !ok {
			file := filepath.Join(schemaDir, strings.TrimPrefix(v, "skaffold/")+".json")
			if _, err := os.Stat(file); err != nil {
				p.add("document %d: no schema for %s in %s", i, v, SkaffoldModule)
				continue
			}
			c := jsonschema.NewCompiler()
			sch, err = c.Compile(file)
			if err != nil {
				t.Fatalf("compile %s: %v", file, err)
			}
			compiled[v] = sch
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(t, d.Doc)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			p.add("document %d (%s): %v", i, str(get(d.Doc, "metadata", "name")), err)
		}
		walkSkaffold(d.Doc, func(key string, node map[string]any) {
			switch key {
			case "artifact":
				images[str(node["image"])] = true
			}
		})
	}
	// Paths that must exist, relative to the skaffold.yaml folder.
	for i, d := range docs {
		walkSkaffold(d.Doc, func(key string, node map[string]any) {
			check := func(what, rel string) {
				if rel == "" || strings.Contains(rel, "{{") {
					return
				}
				if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
					p.add("document %d: %s %q does not exist", i, what, rel)
				}
			}
			switch key {
			case "artifact":
				ctx := str(node["context"])
				check("artifact context", ctx)
				if df := str(get(node, "docker", "dockerfile")); df != "" {
					check("dockerfile", filepath.Join(ctx, df))
				}
			case "release":
				check("chartPath", str(node["chartPath"]))
				for _, vf := range list(node["valuesFiles"]) {
					check("valuesFile", str(vf))
				}
			case "kustomize":
				for _, kp := range list(node["paths"]) {
					check("kustomize path", str(kp))
				}
			case "rawYaml":
				for _, f := range list(node["files"]) {
					if s := str(f); !strings.ContainsAny(s, "*?[") {
						check("rawYaml file", s)
					}
				}
			case "requires":
				check("requires path", str(node["path"]))
			}
		})
	}
	// {{.IMAGE_REPO_x}}, {{.IMAGE_TAG_x}}, {{.IMAGE_FULLY_QUALIFIED_x}}, {{.IMAGE_DIGEST_x}} name built images.
	norm := map[string]bool{}
	for img := range images {
		norm[regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(img, "_")] = true
	}
	for _, m := range regexp.MustCompile(`\.IMAGE_(?:REPO_NO_DOMAIN|REPO|TAG|FULLY_QUALIFIED|DIGEST|DOMAIN)_([A-Za-z0-9_]+)`).FindAllStringSubmatch(string(data), -1) {
		if !norm[m[1]] {
			p.add("template names image %q, which no artifact builds (artifacts: %v)", m[1], keys(images))
		}
	}
	return p
}

// walkSkaffold visits the artifacts, helm releases, kustomize blocks, rawYaml blocks and requires entries of a
// skaffold config, at the top level and in every profile.
func walkSkaffold(doc map[string]any, visit func(key string, node map[string]any)) {
	pipeline := func(m map[string]any) {
		for _, a := range list(get(m, "build", "artifacts")) {
			visit("artifact", mapOf(a))
		}
		for _, r := range list(get(m, "deploy", "helm", "releases")) {
			visit("release", mapOf(r))
		}
		if k := mapOf(get(m, "manifests", "kustomize")); k != nil {
			visit("kustomize", k)
		}
		if r := get(m, "manifests", "rawYaml"); r != nil {
			visit("rawYaml", map[string]any{"files": r})
		}
		for _, r := range list(m["requires"]) {
			visit("requires", mapOf(r))
		}
	}
	pipeline(doc)
	for _, pr := range list(doc["profiles"]) {
		pipeline(mapOf(pr))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSkaffoldCheckFires proves the schema and the path checks reject a broken config.
func TestSkaffoldCheckFires(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "charts/messenger/Chart.yaml"), "name: messenger\n")
	mustWrite(t, filepath.Join(root, "services/gateway/Dockerfile"), "FROM scratch\n")
	good := `apiVersion: skaffold/v4beta13
kind: Config
metadata: {name: services}
build:
  artifacts:
    - image: simplemessenger/gateway
      context: .
      docker: {dockerfile: services/gateway/Dockerfile}
deploy:
  helm:
    releases:
      - name: messenger
        chartPath: charts/messenger
        setValueTemplates:
          gateway.image.repository: "{{.IMAGE_REPO_simplemessenger_gateway}}"
`
	if p := checkSkaffold(t, root, []byte(good)); len(p) != 0 {
		t.Fatalf("good config rejected: %v", p)
	}
	for name, c := range map[string]struct{ from, to, want string }{
		"misspelt field":  {"chartPath:", "chartPth:", "chartPth"},
		"missing chart":   {"chartPath: charts/messenger", "chartPath: charts/nope", `chartPath "charts/nope" does not exist`},
		"missing file":    {"dockerfile: services/gateway/Dockerfile", "dockerfile: services/x/Dockerfile", "does not exist"},
		"unknown image":   {"IMAGE_REPO_simplemessenger_gateway", "IMAGE_REPO_simplemessenger_gatewy", "no artifact builds"},
		"unknown version": {"skaffold/v4beta13", "skaffold/v9", "no schema for skaffold/v9"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := strings.Replace(good, c.from, c.to, 1)
			p := checkSkaffold(t, root, []byte(bad))
			if !strings.Contains(strings.Join(p, "\n"), c.want) {
				t.Errorf("want %q among %v", c.want, p)
			}
		})
	}
}
