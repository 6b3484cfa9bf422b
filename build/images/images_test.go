package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var epoch = time.Unix(0, 0).UTC()

const fakeCerts = "-----BEGIN CERTIFICATE-----\nnot really a certificate\n-----END CERTIFICATE-----\n"

// file is one tar entry of an image's layers, with its content.
type file struct {
	Header *tar.Header
	Data   []byte
}

// files reads every layer of img (later layers win), keyed by absolute path.
func files(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]file{}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil || mt != types.OCILayer {
			t.Fatalf("layer media type %s, %v; want %s", mt, err, types.OCILayer)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out["/"+strings.TrimSuffix(h.Name, "/")] = file{h, b}
		}
		rc.Close()
	}
	return out
}

func configOf(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testBase(t *testing.T) v1.Image {
	t.Helper()
	img, err := baseImage([]byte(fakeCerts), epoch)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestBaseImage(t *testing.T) {
	img := testBase(t)
	fs := files(t, img)
	if got := string(fs["/etc/ssl/certs/ca-certificates.crt"].Data); got != fakeCerts {
		t.Errorf("ca-certificates.crt = %q", got)
	}
	passwd := string(fs["/etc/passwd"].Data)
	for _, want := range []string{"root:x:0:0:", "nonroot:x:65532:65532:nonroot:/home/nonroot:"} {
		if !strings.Contains(passwd, want) {
			t.Errorf("/etc/passwd lacks %q:\n%s", want, passwd)
		}
	}
	if g := string(fs["/etc/group"].Data); !strings.Contains(g, "root:x:0:") || !strings.Contains(g, "nonroot:x:65532:") {
		t.Errorf("/etc/group:\n%s", g)
	}
	tmp, ok := fs["/tmp"]
	if !ok || tmp.Header.Typeflag != tar.TypeDir || tmp.Header.Mode != 0o1777 {
		t.Errorf("/tmp: %+v", tmp.Header)
	}
	if h := fs["/home/nonroot"].Header; h == nil || h.Uid != 65532 || h.Gid != 65532 || h.Mode != 0o700 {
		t.Errorf("/home/nonroot: %+v", h)
	}
	for p, f := range fs {
		if !f.Header.ModTime.Equal(epoch) || f.Header.Uname != "" {
			t.Errorf("%s: mtime %s uname %q", p, f.Header.ModTime, f.Header.Uname)
		}
	}

	cf := configOf(t, img)
	if cf.Config.User != "65532:65532" || cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Equal(epoch) {
		t.Errorf("config: user %q, %s/%s, created %s", cf.Config.User, cf.OS, cf.Architecture, cf.Created)
	}
	if !slices.Contains(cf.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") {
		t.Errorf("env %q", cf.Config.Env)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	if len(cf.History) != 1 || len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("history %d, diff ids %d; want 1 and 1", len(cf.History), len(cf.RootFS.DiffIDs))
	}
}

func TestBaseImageIsReproducible(t *testing.T) {
	a, b := digest(t, testBase(t)), digest(t, testBase(t))
	if a != b {
		t.Fatalf("same inputs, two digests: %s %s", a, b)
	}
	other, err := baseImage([]byte(fakeCerts+"\n"), epoch)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, other) == a {
		t.Error("other certificates, same digest")
	}
	later, err := baseImage([]byte(fakeCerts), epoch.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, later) == a {
		t.Error("other SOURCE_DATE_EPOCH, same digest")
	}
}

func TestServiceImage(t *testing.T) {
	base := testBase(t)
	bin := []byte("\x7fELF fake auth binary")
	s := service{"auth", 8081, 9081}
	img, err := serviceImage(base, s, bin, "v1.2.3", "0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	again, err := serviceImage(testBase(t), s, bin, "v1.2.3", "0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, img) != digest(t, again) {
		t.Error("same inputs, two digests")
	}

	fs := files(t, img)
	f := fs["/service"]
	if !bytes.Equal(f.Data, bin) || f.Header.Mode != 0o755 || f.Header.Uid != 0 {
		t.Errorf("/service: %+v %q", f.Header, f.Data)
	}
	if _, ok := fs["/etc/passwd"]; !ok {
		t.Error("the base's files are missing")
	}
	baseLayers, _ := base.Layers()
	layers, _ := img.Layers()
	bd, _ := baseLayers[0].Digest()
	ld, _ := layers[0].Digest()
	if len(layers) != 2 || bd != ld {
		t.Errorf("%d layers, first %s; want 2, first the base's %s", len(layers), ld, bd)
	}

	c := configOf(t, img).Config
	if !slices.Equal(c.Entrypoint, []string{"/service"}) || c.Cmd != nil || c.User != "65532:65532" {
		t.Errorf("entrypoint %q cmd %q user %q", c.Entrypoint, c.Cmd, c.User)
	}
	for _, e := range []string{"HTTP_ADDR=:8081", "ADMIN_ADDR=:9081", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("env %q lacks %s", c.Env, e)
		}
	}
	if _, ok := c.ExposedPorts["8081/tcp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if _, ok := c.ExposedPorts["9081/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	want := map[string]string{
		"org.opencontainers.image.title":    "simplemessenger-auth",
		"org.opencontainers.image.version":  "v1.2.3",
		"org.opencontainers.image.revision": "0123abcd",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	noRev, err := serviceImage(base, s, bin, "v1.2.3", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := configOf(t, noRev).Config.Labels["org.opencontainers.image.revision"]; ok {
		t.Error("revision label without a revision")
	}
}

// testRegistry is go-containerregistry's in-memory registry on a loopback port; it returns its host:port.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// testConfig builds from tiny fake binaries (one per service, or pause/coredns) instead of compiling anything.
func testConfig(t *testing.T, reg string) *config {
	t.Helper()
	dir := t.TempDir()
	certs := filepath.Join(dir, "ca.crt")
	coredns := filepath.Join(dir, "coredns")
	for p, b := range map[string]string{certs: fakeCerts, coredns: "fake coredns"} {
		if err := os.WriteFile(p, []byte(b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake := func(path, content string) error { return os.WriteFile(path, []byte(content), 0o755) }
	return &config{
		Root: dir, Registry: reg, Tag: "test-1", Services: allServices, Values: filepath.Join(dir, "run", "values.yaml"),
		Push: true, CACerts: certs, Revision: "feedface", Created: epoch,
		KubernetesVersion: "v1.37.2", PauseTag: "3.10", CoreDNS: coredns, CoreDNSVersion: "v1.15.0",
		BuildServices: func(_ context.Context, root, outDir string, svcs []service) (map[string]string, error) {
			if root != dir {
				t.Errorf("built in %s, want %s", root, dir)
			}
			bins := map[string]string{}
			for _, s := range svcs {
				bins[s.Name] = filepath.Join(outDir, s.Name)
				if err := fake(bins[s.Name], "fake "+s.Name); err != nil {
					return nil, err
				}
			}
			return bins, nil
		},
		BuildPause: func(_ context.Context, _, outDir string) (string, string, error) {
			p := filepath.Join(outDir, "pause")
			return p, "3.10.2", fake(p, "fake pause")
		},
		CheckCoreDNS: func(string, string) error { return nil },
		Log:          io.Discard,
	}
}

// pull reads ref back from the registry.
func pull(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return img
}

func TestPushServicesAndValues(t *testing.T) {
	reg := testRegistry(t)
	cfg := testConfig(t, reg)
	res, err := build(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Fatalf("%d results, want 5", len(res))
	}
	values, err := os.ReadFile(cfg.Values)
	if err != nil {
		t.Fatal(err)
	}
	v := string(values)
	if !strings.Contains(v, "global:\n  image:\n    registry: \""+reg+"\"\n    tag: \"test-1\"\n") {
		t.Errorf("values lack the global image:\n%s", v)
	}
	for i, r := range res {
		s := allServices[i]
		if r.Name != s.Name || r.Ref != reg+"/simplemessenger/"+s.Name+":test-1" {
			t.Errorf("result %d: %+v", i, r)
		}
		img := pull(t, r.Ref)
		if d := digest(t, img); d != r.Digest {
			t.Errorf("%s: pulled %s, reported %s", r.Ref, d, r.Digest)
		}
		byDigest := pull(t, reg+"/simplemessenger/"+s.Name+"@"+r.Digest.String())
		if fs := files(t, byDigest); string(fs["/service"].Data) != "fake "+s.Name || fs["/etc/passwd"].Data == nil {
			t.Errorf("%s: /service %q", r.Ref, fs["/service"].Data)
		}
		c := configOf(t, img).Config
		if !slices.Contains(c.Env, "HTTP_ADDR=:"+strconv.Itoa(s.HTTPPort)) || c.Labels["org.opencontainers.image.revision"] != "feedface" {
			t.Errorf("%s: env %q labels %v", r.Ref, c.Env, c.Labels)
		}
		if want := s.Name + ":\n  image:\n    digest: \"" + r.Digest.String() + "\"\n"; !strings.Contains(v, want) {
			t.Errorf("values lack %q:\n%s", want, v)
		}
	}

	// The base layer is one blob, shared by the five images.
	resp, err := http.Get("http://" + reg + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var catalog struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&catalog); err != nil {
		t.Fatal(err)
	}
	if len(catalog.Repositories) != 5 {
		t.Errorf("catalog %v", catalog.Repositories)
	}

	// A second run with the same inputs pushes the same digests.
	again, err := build(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res {
		if again[i].Digest != res[i].Digest {
			t.Errorf("%s: %s then %s", res[i].Name, res[i].Digest, again[i].Digest)
		}
	}
	var table bytes.Buffer
	printTable(&table, res)
	if !strings.Contains(table.String(), res[0].Ref+"@"+res[0].Digest.String()) {
		t.Errorf("table:\n%s", table.String())
	}
}

func TestPushSomeServicesNoValues(t *testing.T) {
	cfg := testConfig(t, testRegistry(t))
	cfg.Services, cfg.Values = allServices[1:2], ""
	res, err := build(t.Context(), cfg)
	if err != nil || len(res) != 1 || res[0].Name != "auth" {
		t.Fatalf("%+v %v", res, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.Root, "run")); len(entries) > 0 {
		t.Error("a values file was written")
	}
}

func TestBuildWithoutPush(t *testing.T) {
	cfg := testConfig(t, "registry.invalid") // never contacted
	cfg.Push = false
	res, err := build(t.Context(), cfg)
	if err != nil || len(res) != 5 || res[0].Digest.Hex == "" {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := os.Stat(cfg.Values); !os.IsNotExist(err) {
		t.Error("a values file for images that were not pushed")
	}
}

func TestPushClusterImages(t *testing.T) {
	reg := testRegistry(t)
	cfg := testConfig(t, reg)
	cfg.Cluster = true
	res, err := build(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Ref != reg+"/simplemessenger/pause:3.10" || res[1].Ref != reg+"/simplemessenger/coredns:v1.15.0" {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(cfg.Values); !os.IsNotExist(err) {
		t.Error("cluster images wrote the services' values file")
	}

	pause := pull(t, res[0].Ref)
	fs := files(t, pause)
	if len(fs) != 1 || string(fs["/pause"].Data) != "fake pause" {
		t.Errorf("pause files %v", fs)
	}
	c := configOf(t, pause).Config
	if !slices.Equal(c.Entrypoint, []string{"/pause"}) || c.User != "65535:65535" || c.Labels["org.opencontainers.image.version"] != "3.10.2" {
		t.Errorf("pause config %+v", c)
	}

	coredns := pull(t, res[1].Ref)
	fs = files(t, coredns)
	if string(fs["/coredns"].Data) != "fake coredns" || fs["/etc/ssl/certs/ca-certificates.crt"].Data == nil {
		t.Errorf("coredns files %v", fs)
	}
	c = configOf(t, coredns).Config
	_, udp := c.ExposedPorts["53/udp"]
	if !slices.Equal(c.Entrypoint, []string{"/coredns"}) || c.User != "65532:65532" || !udp {
		t.Errorf("coredns config %+v", c)
	}

	cfg.CheckCoreDNS = func(string, string) error { return errors.New("not coredns") }
	if _, err := build(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "not coredns") {
		t.Errorf("a wrong coredns binary: %v", err)
	}
}

func TestPushToolImages(t *testing.T) {
	reg := testRegistry(t)
	cfg := testConfig(t, reg)
	dir := t.TempDir()
	for _, n := range []string{"prometheus", "jaeger"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("fake "+n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Tools = []tool{{"prometheus", filepath.Join(dir, "prometheus"), "v3.5.0"}, {"jaeger", filepath.Join(dir, "jaeger"), "v1.75.0"}}
	res, err := build(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Ref != reg+"/simplemessenger/prometheus:v3.5.0" || res[1].Ref != reg+"/simplemessenger/jaeger:v1.75.0" {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(cfg.Values); !os.IsNotExist(err) {
		t.Error("tool images wrote the services' values file")
	}
	img := pull(t, res[0].Ref)
	fs := files(t, img)
	if string(fs["/bin/prometheus"].Data) != "fake prometheus" || fs["/bin/prometheus"].Header.Mode&0o111 == 0 || fs["/tmp"].Header == nil {
		t.Errorf("prometheus files %v", fs)
	}
	c := configOf(t, img).Config
	if !slices.Equal(c.Entrypoint, []string{"/bin/prometheus"}) || c.User != "65532:65532" || c.Labels["org.opencontainers.image.version"] != "v3.5.0" {
		t.Errorf("prometheus config %+v", c)
	}
	cfg.Tools = []tool{{"x", filepath.Join(dir, "missing"), "v1"}}
	if _, err := build(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing binary: %v", err)
	}
}

func TestParseTool(t *testing.T) {
	got, err := parseTool("prometheus-config-reloader=/a:b/bin/x:v0.85.0")
	if err != nil || got != (tool{"prometheus-config-reloader", "/a:b/bin/x", "v0.85.0"}) {
		t.Errorf("%+v %v", got, err)
	}
	for _, bad := range []string{"x", "x=/bin/x", "X=/bin/x:v1", "x=:v1", "x=/bin/x:", "x=/bin/x:bad/tag"} {
		if _, err := parseTool(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPushFailsWithoutRegistry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	reg := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	cfg := testConfig(t, reg)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := build(ctx, cfg); err == nil || !strings.Contains(err.Error(), "push "+reg) {
		t.Errorf("push to a closed port: %v", err)
	}
	if _, err := os.Stat(cfg.Values); !os.IsNotExist(err) {
		t.Error("values written although the push failed")
	}
}

// TestPauseCompiles compiles the real pause.c (module cache, gcc -static): a static binary that reports the version.
func TestPauseCompiles(t *testing.T) {
	for _, tool := range []string{"gcc", "strip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	p, version, err := gccBuildPause(io.Discard)(t.Context(), "v1.37.2", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if version != "3.10.2" {
		t.Errorf("pause version %q", version)
	}
	ef, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("pause is dynamically linked")
		}
	}
	out, err := exec.Command(p, "-v").Output()
	if err != nil || string(out) != "pause.c v3.10.2-v1.37.2\n" {
		t.Errorf("pause -v: %q %v", out, err)
	}
}

func TestCheckCoreDNS(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkCoreDNS(self, "v1.15.0"); err == nil || !strings.Contains(err.Error(), "want github.com/coredns/coredns@v1.15.0") {
		t.Errorf("the test binary taken for CoreDNS: %v", err)
	}
	if err := checkCoreDNS(filepath.Join(t.TempDir(), "coredns"), "v1.15.0"); err == nil || !strings.Contains(err.Error(), "scripts/k8s-tools.sh coredns") {
		t.Errorf("a missing binary: %v", err)
	}
}

func TestLoopbackRegistry(t *testing.T) {
	for reg, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:5000": true, "localhost": true, "[::1]:5000": true, "127.0.0.2:80/team": true,
		"ghcr.io/acme": false, "registry.local:5000": false, "10.0.0.5:5000": false, "localhost.example.com": false,
	} {
		if got := loopbackRegistry(reg); got != want {
			t.Errorf("loopbackRegistry(%q) = %v", reg, got)
		}
	}
}

func TestParseFlags(t *testing.T) {
	root := t.TempDir()
	env := map[string]string{"TAG": "abc1234-dirty", "INSECURE_REGISTRY": "1", "SOURCE_DATE_EPOCH": "3600"}
	cfg, err := parseFlags([]string{"-root", root, "-revision", "r"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Registry != "127.0.0.1:5000" || cfg.Tag != "abc1234-dirty" || !cfg.Insecure || len(cfg.Services) != 5 ||
		cfg.Values != filepath.Join(root, ".run", "images", "values.yaml") || !cfg.Created.Equal(time.Unix(3600, 0)) ||
		cfg.CoreDNS != filepath.Join(root, ".tools", "bin", "coredns") || !cfg.Push {
		t.Errorf("%+v", cfg)
	}
	cfg, err = parseFlags([]string{"-root", root, "-registry", "ghcr.io/acme", "-tag", "v1", "-services", "auth, gateway", "-values", "-"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Registry != "ghcr.io/acme" || cfg.Insecure || cfg.Values != "" || len(cfg.Services) != 2 || cfg.Services[0].Name != "auth" {
		t.Errorf("%+v", cfg)
	}
	for _, args := range [][]string{
		{"-root", root}, // no tag
		{"-root", root, "-tag", "x", "-services", "web"}, // unknown service
		{"-root", root, "-tag", "x", "extra"},
	} {
		if _, err := parseFlags(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	if _, err := parseFlags([]string{"-root", root, "-cluster"}, func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("-cluster needs no tag: %v", err)
	}
	cfg, err = parseFlags([]string{"-root", root, "-tool", "jaeger=/j:v1", "-tool", "prometheus=/p:v3"}, func(string) string { return "" }, io.Discard)
	if err != nil || len(cfg.Tools) != 2 || cfg.Tools[1].Name != "prometheus" {
		t.Errorf("-tool: %+v %v", cfg, err)
	}
	if _, err := parseFlags([]string{"-root", root, "-cluster", "-tool", "jaeger=/j:v1"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("-cluster with -tool: no error")
	}
}
