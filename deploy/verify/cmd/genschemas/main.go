// Command genschemas writes strict, standalone JSON schemas for kubeconform: one per Kubernetes kind from
// the OpenAPI v2 document (api/openapi-spec/swagger.json) of the k8s.io/kubernetes module, and one per
// served version of each Prometheus Operator CRD from the prometheus-operator module. Files are named for
// kubeconform's `-schema-location 'DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json'`.
//
//	go run ./cmd/genschemas -out /work/main/.tools/schemas
//
// Without -k8s-spec / -crd-dir the modules are located (and downloaded if needed) with `go mod download -json`.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"simplemessenger/deploy/verify/schemagen"
)

const (
	kubernetesModule = "k8s.io/kubernetes@v1.37.2"
	promOpModule     = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
)

func main() {
	out := flag.String("out", "", "output folder (created)")
	spec := flag.String("k8s-spec", "", "swagger.json of Kubernetes (default: api/openapi-spec/swagger.json in "+kubernetesModule+")")
	crdDir := flag.String("crd-dir", "", "folder of Prometheus Operator CRD YAMLs (default: example/prometheus-operator-crd in "+promOpModule+")")
	flag.Parse()
	if *out == "" {
		fail(fmt.Errorf("-out is required"))
	}
	if *spec == "" {
		dir, err := moduleDir(kubernetesModule)
		fail(err)
		*spec = filepath.Join(dir, "api", "openapi-spec", "swagger.json")
	}
	if *crdDir == "" {
		dir, err := moduleDir(promOpModule)
		fail(err)
		*crdDir = filepath.Join(dir, "example", "prometheus-operator-crd")
	}
	fail(os.MkdirAll(*out, 0o755))

	sw, err := schemagen.LoadSwagger(*spec)
	fail(err)
	kinds := sw.Kinds()
	gvks := make([]schemagen.GVK, 0, len(kinds))
	for g := range kinds {
		gvks = append(gvks, g)
	}
	sort.Slice(gvks, func(i, j int) bool { return gvks[i].APIVersion()+gvks[i].Kind < gvks[j].APIVersion()+gvks[j].Kind })
	written := map[string]string{}
	for _, g := range gvks {
		s, err := sw.KindSchema(kinds[g], g)
		fail(err)
		p, err := schemagen.Write(*out, g, s)
		fail(err)
		if prev, dup := written[p]; dup {
			fail(fmt.Errorf("%s written for both %s and %s/%s", p, prev, g.APIVersion(), g.Kind))
		}
		written[p] = g.APIVersion() + "/" + g.Kind
	}
	nK8s := len(written)

	meta, err := sw.Expand(schemagen.ObjectMetaDefinition)
	fail(err)
	files, err := filepath.Glob(filepath.Join(*crdDir, "*.yaml"))
	fail(err)
	if len(files) == 0 {
		fail(fmt.Errorf("no CRD files in %s", *crdDir))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		fail(err)
		schemas, err := schemagen.CRDSchemas(b, meta)
		if err != nil {
			fail(fmt.Errorf("%s: %w", f, err))
		}
		for g, s := range schemas {
			p, err := schemagen.Write(*out, g, s)
			fail(err)
			if prev, dup := written[p]; dup {
				fail(fmt.Errorf("%s written for both %s and %s/%s", p, prev, g.APIVersion(), g.Kind))
			}
			written[p] = g.APIVersion() + "/" + g.Kind
		}
	}
	fmt.Printf("genschemas: %d Kubernetes and %d Prometheus Operator schemas in %s\n", nK8s, len(written)-nK8s, *out)
}

// moduleDir downloads (or finds in the module cache) one module@version and returns its folder.
func moduleDir(modVersion string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = os.TempDir() // outside any module or workspace
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", modVersion, strings.TrimSpace(m.Error))
	}
	return m.Dir, nil
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "genschemas:", err)
		os.Exit(1)
	}
}
