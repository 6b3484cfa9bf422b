package verify

// TestAPIServerDryRun (make k8s-verify, scripts/k8s-verify.sh): everything rendered is applied to a real
// kube-apiserver (with its etcd, both on loopback, nothing else of a cluster) with a server-side dry run and strict
// field validation, after the CRDs of the Prometheus Operator and the project's own MariaDB/RabbitMQ schemas are
// installed. Deliberately broken objects (a misspelt field in a Deployment, a MariaDB and a ServiceMonitor; a
// Deployment whose selector does not match its template) must be refused, proving the check can fail.
//
// It runs only when the binaries are given: KUBEBUILDER_ASSETS=<folder with etcd and kube-apiserver> (envtest's
// convention), or K8S_VERIFY=1 for <repo>/.tools/bin, and RENDERED_DIR names the rendered folder; otherwise it skips
// (scripts/k8s-verify.sh fails unless it passed).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Prometheus Operator release whose CRDs are installed: the one cmd/genschemas generates schemas from
// (TestPromOperatorVersionMatchesGenschemas keeps them equal).
const promOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

func TestPromOperatorVersionMatchesGenschemas(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("cmd", "genschemas", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"`+promOperatorModule+`"`)) {
		t.Fatalf("cmd/genschemas does not use %s: keep apiserver_test.go's promOperatorModule equal to it", promOperatorModule)
	}
}

// TestProjectSchemasMakeCRDs: every k8s/schemas file converts to a CRD (the apiserver test then installs them).
func TestProjectSchemasMakeCRDs(t *testing.T) {
	crds, err := CRDsFromSchemaDir(filepath.Join("..", "..", "k8s", "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crds {
		spec := mapOf(c["spec"])
		root := mapOf(get(list(spec["versions"])[0], "schema", "openAPIV3Schema"))
		if root["type"] != "object" || mapOf(root["properties"])["spec"] == nil {
			t.Errorf("%s: root schema %v", get(c, "metadata", "name"), root)
		}
		if bytes.Contains(mustJSON(t, c), []byte(`"additionalProperties":false`)) {
			t.Errorf("%s: additionalProperties false left in", get(c, "metadata", "name"))
		}
	}
	if _, err := CRDFromJSONSchema([]byte(`{"properties":{"apiVersion":{"const":"a.b/v1"},"kind":{"const":"K"},"spec":{"type":"object","properties":{"x":{"type":"string","oneOf":[]}}}}}`), ""); err == nil {
		t.Error("an unknown keyword (oneOf) was accepted")
	}
}

// apiServerAssets is the folder with etcd and kube-apiserver: KUBEBUILDER_ASSETS, or .tools/bin with
// K8S_VERIFY=1; the test skips when neither is set and fails when a binary is missing.
func apiServerAssets(t *testing.T) string {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" && os.Getenv("K8S_VERIFY") == "1" {
		assets = filepath.Join("..", "..", ".tools", "bin")
	}
	if assets == "" {
		t.Skip("neither KUBEBUILDER_ASSETS nor K8S_VERIFY=1 is set: run scripts/k8s-verify.sh (make k8s-verify), which builds etcd and kube-apiserver into .tools/bin (scripts/k8s-bins.sh), renders everything and sets them")
	}
	assets, _ = filepath.Abs(assets)
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			t.Fatalf("%s: %v (scripts/k8s-bins.sh builds it)", b, err)
		}
	}
	return assets
}

func TestAPIServerDryRun(t *testing.T) {
	assets := apiServerAssets(t)
	dir := os.Getenv("RENDERED_DIR")
	if dir == "" {
		t.Skip("RENDERED_DIR is not set: scripts/k8s-verify.sh renders the charts and overlays and sets it")
	}
	sets, err := LoadSets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) == 0 {
		t.Fatalf("RENDERED_DIR %s holds no YAML", dir)
	}

	start := time.Now()
	api := startControlPlane(t, assets)
	t.Logf("etcd and kube-apiserver ready in %s (%s)", time.Since(start).Round(time.Millisecond), api.base)

	// CRDs: the Prometheus Operator's own, and the project's strict schemas made structural.
	var crds []map[string]any
	promDir := filepath.Join(moduleDir(t, promOperatorModule), "example", "prometheus-operator-crd")
	files, _ := filepath.Glob(filepath.Join(promDir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no CRDs in %s", promDir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := ParseYAML(f, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			crds = append(crds, o.Doc)
		}
	}
	own, err := CRDsFromSchemaDir(filepath.Join("..", "..", "k8s", "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	crds = append(crds, own...)
	for _, c := range crds {
		if code, body := api.do(t, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", c); code != http.StatusCreated {
			t.Fatalf("creating CRD %s: %d %s", get(c, "metadata", "name"), code, body)
		}
	}
	for _, c := range crds {
		api.waitEstablished(t, str(get(c, "metadata", "name")))
	}
	t.Logf("%d CRDs established (%d Prometheus Operator, %d from k8s/schemas)", len(crds), len(crds)-len(own), len(own))

	res := api.discover(t)

	// Namespaces are created for real (a dry-run object needs its namespace to exist).
	namespaces := map[string]bool{}
	for _, objs := range sets {
		for _, o := range objs {
			if o.Namespace() != "" {
				namespaces[o.Namespace()] = true
			}
			if o.Kind() == "Namespace" && o.APIVersion() == "v1" {
				namespaces[o.Name()] = true
			}
		}
	}
	namespaces["k8s-verify-negative"] = true
	for _, ns := range sortedSet(namespaces) {
		code, body := api.do(t, "POST", "/api/v1/namespaces", map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
		if code != http.StatusCreated && code != http.StatusConflict {
			t.Fatalf("creating namespace %s: %d %s", ns, code, body)
		}
	}

	// So are ServiceAccounts, with their name only (the dry run below applies them whole): a Pod, such as `helm
	// test`'s, is admitted only when its ServiceAccount exists (the ServiceAccount admission plugin).
	for _, objs := range sets {
		for _, o := range objs {
			if o.Kind() != "ServiceAccount" || o.APIVersion() != "v1" {
				continue
			}
			code, body := api.do(t, "POST", "/api/v1/namespaces/"+o.Namespace()+"/serviceaccounts", map[string]any{
				"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": o.Name()}})
			if code != http.StatusCreated && code != http.StatusConflict {
				t.Fatalf("creating ServiceAccount %s/%s: %d %s", o.Namespace(), o.Name(), code, body)
			}
		}
	}

	total := 0
	for _, name := range SortedKeys(sets) {
		t.Run(name, func(t *testing.T) {
			for _, o := range sets[name] {
				if err := api.dryRunApply(t, res, o.Doc); err != nil {
					t.Errorf("%s/%s %s/%s refused: %v", o.APIVersion(), o.Kind(), o.Namespace(), o.Name(), err)
				}
			}
			total += len(sets[name])
		})
	}
	t.Logf("%d objects of %d rendered sets sent (server-side apply, dryRun=All, fieldValidation=Strict)", total, len(sets))

	// Negative controls: each must be refused, and the message must name the bad field.
	t.Run("negative", func(t *testing.T) {
		for _, bad := range []struct{ field, doc string }{ // field: what the refusal must name
			{"readOnlyRootFilesytem", `apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: k8s-verify-negative}
spec:
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}}
    spec:
      containers:
      - name: x
        image: x
        securityContext: {readOnlyRootFilesytem: true}
`},
			// Valid fields, but the server's own validation refuses it (no schema can): selector ≠ template labels.
			{"does not match template", `apiVersion: apps/v1
kind: Deployment
metadata: {name: broken-selector, namespace: k8s-verify-negative}
spec:
  selector: {matchLabels: {app: one}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: x, image: x}]
`},
			{"replicsa", `apiVersion: k8s.mariadb.com/v1alpha1
kind: MariaDB
metadata: {name: broken, namespace: k8s-verify-negative}
spec: {replicsa: 3}
`},
			{"matchLabelz", `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: broken, namespace: k8s-verify-negative}
spec:
  selector: {matchLabelz: {app: broken}}
  endpoints: [{port: admin}]
`},
		} {
			objs, err := ParseYAML("negative", []byte(bad.doc))
			if err != nil {
				t.Fatal(err)
			}
			o := objs[0]
			err = api.dryRunApply(t, res, o.Doc)
			switch {
			case err == nil:
				t.Errorf("%s %s (%q) was accepted: the check cannot fail", o.Kind(), o.Name(), bad.field)
			case !strings.Contains(err.Error(), bad.field):
				t.Errorf("%s %s refused, but not for %q: %v", o.Kind(), o.Name(), bad.field, err)
			default:
				t.Logf("refused as expected: %s: %v", o.Kind(), err)
			}
		}
	})
}

// --- the control plane -------------------------------------------------------------------------------------------

type apiServer struct {
	base   string
	client *http.Client
}

func startControlPlane(t *testing.T, assets string) *apiServer {
	t.Helper()
	tmp := t.TempDir()

	etcdClient, etcdPeer := freePort(t), freePort(t)
	clientURL := "http://127.0.0.1:" + etcdClient
	peerURL := "http://127.0.0.1:" + etcdPeer
	startProcess(t, tmp, "etcd", filepath.Join(assets, "etcd"),
		"--name", "k8s-verify",
		"--data-dir", filepath.Join(tmp, "etcd-data"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "k8s-verify="+peerURL,
		"--unsafe-no-fsync", "--log-level", "warn")

	// A CA that signs the client certificate (the apiserver trusts it through --client-ca-file), and the service
	// account key pair the apiserver needs to start.
	caKey, caCert, caPEM := newCA(t)
	clientCert := newClientCert(t, caKey, caCert)
	writeFile(t, filepath.Join(tmp, "client-ca.crt"), caPEM)
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tmp, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}))
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tmp, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))

	port := freePort(t)
	certDir := filepath.Join(tmp, "apiserver-certs")
	startProcess(t, tmp, "kube-apiserver", filepath.Join(assets, "kube-apiserver"),
		"--etcd-servers", clientURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", port,
		"--cert-dir", certDir, // a self-signed serving certificate is generated there
		"--client-ca-file", filepath.Join(tmp, "client-ca.crt"),
		"--authorization-mode", "AlwaysAllow",
		"--endpoint-reconciler-type", "none",
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", filepath.Join(tmp, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(tmp, "sa.key"),
		"--allow-privileged=true")

	api := &apiServer{base: "https://127.0.0.1:" + port}
	deadline := time.Now().Add(3 * time.Minute)
	var lastErr error
	for time.Now().Before(deadline) {
		if api.client == nil {
			// The serving certificate (and the CA that signed it) appear once the apiserver has started.
			b, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
			if err != nil {
				lastErr = err
				time.Sleep(300 * time.Millisecond)
				continue
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) { // not written completely yet
				lastErr = fmt.Errorf("no certificate in %s yet", filepath.Join(certDir, "apiserver.crt"))
				time.Sleep(300 * time.Millisecond)
				continue
			}
			api.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: pool, Certificates: []tls.Certificate{clientCert}, ServerName: "127.0.0.1"}}}
		}
		resp, err := api.client.Get(api.base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return api
			}
			err = fmt.Errorf("/readyz: %d %s", resp.StatusCode, lastLines(string(body), 5))
		}
		lastErr = err
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("kube-apiserver not ready after 3 min: %v\n--- kube-apiserver log (tail):\n%s\n--- etcd log (tail):\n%s",
		lastErr, tailFile(filepath.Join(tmp, "kube-apiserver.log")), tailFile(filepath.Join(tmp, "etcd.log")))
	return nil
}

// startProcess runs a binary with its output in tmp/<name>.log, stopped (killed and reaped) when the test ends.
func startProcess(t *testing.T, tmp, name, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(tmp, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-exited:
			t.Logf("%s had exited early: %v\n%s", name, err, tailFile(logf.Name()))
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func newCA(t *testing.T) (*rsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k8s-verify-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// newClientCert: user "k8s-verify" in group system:masters (authorization is AlwaysAllow anyway).
func newClientCert(t *testing.T, caKey *rsa.PrivateKey, ca *x509.Certificate) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "k8s-verify", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// --- talking to it -----------------------------------------------------------------------------------------------

// do sends one request with a JSON body (nil for none) and returns the status and the body.
func (a *apiServer) do(t *testing.T, method, path string, body any) (int, string) {
	t.Helper()
	return a.doType(t, method, path, "application/json", body)
}

func (a *apiServer) doType(t *testing.T, method, path, contentType string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *apiServer) waitEstablished(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		code, body := a.do(t, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, nil)
		if code == http.StatusOK {
			var crd map[string]any
			_ = json.Unmarshal([]byte(body), &crd)
			for _, c := range list(get(crd, "status", "conditions")) {
				cm := mapOf(c)
				if cm["type"] == "NamesAccepted" && cm["status"] == "False" {
					t.Fatalf("CRD %s: names not accepted: %v", name, cm["message"])
				}
				if cm["type"] == "Established" && cm["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("CRD %s not Established after 1 min", name)
}

// resource is where objects of one apiVersion+kind live.
type resource struct {
	name       string // plural
	namespaced bool
}

// discover maps "apiVersion/Kind" to its resource, from the server's discovery documents (/api, /apis).
// CRDs just established can take a moment to appear, so it retries until every CRD group is listed.
func (a *apiServer) discover(t *testing.T) map[string]resource {
	t.Helper()
	out := map[string]resource{}
	gvs := []string{"v1"}
	var groups struct {
		Groups []struct {
			Versions []struct{ GroupVersion string }
		}
	}
	code, body := a.do(t, "GET", "/apis", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /apis: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &groups); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			gvs = append(gvs, v.GroupVersion)
		}
	}
	for _, gv := range gvs {
		path := "/apis/" + gv
		if gv == "v1" {
			path = "/api/v1"
		}
		code, body := a.do(t, "GET", path, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		var rl struct {
			Resources []struct {
				Name, Kind string
				Namespaced bool
			}
		}
		if err := json.Unmarshal([]byte(body), &rl); err != nil {
			t.Fatal(err)
		}
		for _, r := range rl.Resources {
			if strings.Contains(r.Name, "/") { // subresources
				continue
			}
			out[gv+"/"+r.Kind] = resource{r.Name, r.Namespaced}
		}
	}
	return out
}

// dryRunApply server-side-applies one object with dryRun=All and fieldValidation=Strict; the error carries the
// server's message.
func (a *apiServer) dryRunApply(t *testing.T, res map[string]resource, doc map[string]any) error {
	t.Helper()
	o := Object{Doc: doc}
	r, ok := res[o.APIVersion()+"/"+o.Kind()]
	if !ok {
		return fmt.Errorf("the server serves no %s %s", o.APIVersion(), o.Kind())
	}
	prefix := "/apis/" + o.APIVersion()
	if !strings.Contains(o.APIVersion(), "/") {
		prefix = "/api/" + o.APIVersion()
	}
	path := prefix
	if r.namespaced {
		ns := o.Namespace()
		if ns == "" {
			ns = "default" // as kubectl would
		}
		path += "/namespaces/" + url.PathEscape(ns)
	}
	if o.Name() == "" {
		return errors.New("no metadata.name")
	}
	path += "/" + r.name + "/" + url.PathEscape(o.Name()) +
		"?dryRun=All&fieldValidation=Strict&fieldManager=k8s-verify&force=true"
	// Server-side apply takes YAML or JSON; JSON is YAML.
	code, body := a.doType(t, "PATCH", path, "application/apply-patch+yaml", doc)
	if code == http.StatusOK || code == http.StatusCreated {
		return nil
	}
	var status struct{ Message string }
	if json.Unmarshal([]byte(body), &status) == nil && status.Message != "" {
		return fmt.Errorf("%d: %s", code, status.Message)
	}
	return fmt.Errorf("%d: %s", code, body)
}

// --- small helpers -----------------------------------------------------------------------------------------------

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func tailFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), 40)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
