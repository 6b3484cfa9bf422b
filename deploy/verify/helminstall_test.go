package verify

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelmInstallAgainstAPIServer installs the umbrella chart for real (helm install/upgrade/uninstall, not a dry
// run) into a kube-apiserver with etcd (startControlPlane; no nodes, so no pod ever runs), with values-local.yaml,
// and proves what only a cluster shows:
//   - with the namespace there and none of the Secrets, the install fails before applying anything, listing every
//     missing Secret with the kubectl command that makes it; a Secret without one of its keys is named with the key;
//   - once they exist it installs, and the chart's own Secret holds a generated signing key that `helm upgrade`
//     keeps, as it keeps a value an operator wrote there (rotation); `helm uninstall` deletes it;
//   - a service chart installed on its own checks its own Secrets the same way.
//
// Like TestAPIServerDryRun it runs when KUBEBUILDER_ASSETS (or K8S_VERIFY=1: .tools/bin) names a folder with etcd
// and kube-apiserver, and it needs .tools/bin/helm and the packaged chart dependencies (scripts/k8s-charts.sh deps):
//
//	K8S_VERIFY=1 go test -run TestHelmInstallAgainstAPIServer ./deploy/verify
func TestHelmInstallAgainstAPIServer(t *testing.T) {
	assets := apiServerAssets(t)
	helm := filepath.Join(repoRoot(t), ".tools", "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Fatalf("%v (scripts/k8s-tools.sh builds it)", err)
	}
	chart := umbrella(t)
	if deps, _ := filepath.Glob(filepath.Join(chart, "charts", "*.tgz")); len(deps) == 0 {
		t.Fatal("charts/messenger has no packaged dependencies: run scripts/k8s-charts.sh deps")
	}
	api := startControlPlane(t, assets)

	// helm authenticates with the test's client certificate (the apiserver authorizes everything).
	cert := api.client.Transport.(*http.Transport).TLSClientConfig.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte) string {
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	tmp := t.TempDir()
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	writeFile(t, kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: verify, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: verify, user: {client-certificate-data: %s, client-key-data: %s}}]
contexts: [{name: verify, context: {cluster: verify, user: verify, namespace: messenger}}]
current-context: verify
`, api.base, pemOf("CERTIFICATE", cert.Certificate[0]), pemOf("PRIVATE KEY", keyDER))))
	run := func(args ...string) (string, error) {
		cmd := exec.Command(helm, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HELM_CONFIG_HOME="+tmp, "HELM_CACHE_HOME="+tmp, "HELM_DATA_HOME="+tmp)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	install := func(verb string, more ...string) (string, error) {
		return run(append([]string{verb, "messenger", chart, "--namespace", "messenger", "--timeout", "60s",
			"--values", filepath.Join(chart, "values-local.yaml")}, more...)...)
	}
	secret := func(ns, name string, data map[string]string) {
		t.Helper()
		body := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": name}, "stringData": data}
		if code, resp := api.do(t, "POST", "/api/v1/namespaces/"+ns+"/secrets", body); code != http.StatusCreated {
			t.Fatalf("create Secret %s: %d %s", name, code, resp)
		}
	}
	signingKey := func() (string, int) {
		t.Helper()
		code, body := api.do(t, "GET", "/api/v1/namespaces/messenger/secrets/messenger-auth-signing-keys", nil)
		if code != http.StatusOK {
			return "", code
		}
		var s struct{ Data map[string]string }
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		v, err := base64.StdEncoding.DecodeString(s.Data["keys"])
		if err != nil {
			t.Fatal(err)
		}
		return string(v), code
	}
	deployments := func() int {
		t.Helper()
		_, body := api.do(t, "GET", "/apis/apps/v1/namespaces/messenger/deployments", nil)
		var l struct{ Items []any }
		_ = json.Unmarshal([]byte(body), &l)
		return len(l.Items)
	}
	for _, ns := range []string{"messenger", "alone"} {
		if code, body := api.do(t, "POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}); code != http.StatusCreated {
			t.Fatalf("create namespace %s: %d %s", ns, code, body)
		}
	}

	// 1. No Secret: nothing is applied, and the error says what to make.
	out, err := install("install")
	if err == nil {
		t.Fatalf("installed without any of the Secrets:\n%s", out)
	}
	want := []string{
		"5 object(s) this release needs are missing in namespace messenger",
		"# Secret messenger-rabbitmq-user is missing (gateway: AMQP_USERNAME, AMQP_PASSWORD; auth: AMQP_USERNAME, AMQP_PASSWORD;",
		"kubectl -n messenger create secret generic messenger-rabbitmq-user --from-literal=password='<its password>' --from-literal=username='<RabbitMQ user>'",
	}
	for _, svc := range []string{"auth", "profiles", "friends", "messages"} {
		want = append(want, fmt.Sprintf("# Secret messenger-%s-db is missing (%s: MYSQL_PASSWORD; %s: MYSQL_USER)", svc, svc, svc),
			fmt.Sprintf("kubectl -n messenger create secret generic messenger-%s-db --from-literal=password='<password of the MySQL user of %s>' --from-literal=username='<MySQL user of %s, e.g. messenger_cluster_%s>'", svc, svc, svc, svc))
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("the failed install does not say %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "signing-keys") {
		t.Errorf("the chart's own signing-key Secret is reported missing:\n%s", out)
	}
	if n := deployments(); n != 0 {
		t.Errorf("%d Deployments applied by a failed install", n)
	}
	t.Logf("install without the Secrets:\n%s", out)

	// 2. One Secret without a key: named, with a command that adds it.
	for _, svc := range []string{"auth", "profiles", "friends", "messages"} {
		secret("messenger", "messenger-"+svc+"-db", map[string]string{"username": "messenger_cluster_" + svc, "password": "pw-" + svc})
	}
	secret("messenger", "messenger-rabbitmq-user", map[string]string{"username": "messenger-cluster"})
	out, err = install("install")
	if err == nil {
		t.Fatalf("installed with a Secret short of a key:\n%s", out)
	}
	for _, w := range []string{
		"1 object(s) this release needs are missing",
		"# Secret messenger-rabbitmq-user has no key password",
		"kubectl -n messenger create secret generic messenger-rabbitmq-user --from-literal=password='<its password>' --dry-run=client -o yaml | kubectl apply -f -",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the failed install does not say %q:\n%s", w, out)
		}
	}

	// 3. Everything there: installed, with a generated key.
	if code, body := api.doType(t, "PATCH", "/api/v1/namespaces/messenger/secrets/messenger-rabbitmq-user", "application/merge-patch+json",
		map[string]any{"stringData": map[string]string{"password": "pw"}}); code != http.StatusOK {
		t.Fatalf("patch: %d %s", code, body)
	}
	if out, err := install("install"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	if n := deployments(); n != 5 {
		t.Errorf("%d Deployments after the install, want 5", n)
	}
	key, code := signingKey()
	if raw, err := base64.StdEncoding.DecodeString(key); code != http.StatusOK || err != nil || len(raw) != 32 {
		t.Fatalf("signing key Secret: %d, %q (%d bytes, %v)", code, key, len(raw), err)
	}

	// 4. Upgrades keep it, and keep what an operator wrote there (rotation, step 1: publish a second key).
	if out, err := install("upgrade", "--set", "messages.replicaCount=3"); err != nil {
		t.Fatalf("helm upgrade: %v\n%s", err, out)
	}
	if again, _ := signingKey(); again != key {
		t.Fatalf("helm upgrade changed the signing key: %q -> %q", key, again)
	}
	rotated := key + "," + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("n", 32)))
	if code, body := api.doType(t, "PATCH", "/api/v1/namespaces/messenger/secrets/messenger-auth-signing-keys", "application/merge-patch+json",
		map[string]any{"stringData": map[string]string{"keys": rotated}}); code != http.StatusOK {
		t.Fatalf("patch: %d %s", code, body)
	}
	if out, err := install("upgrade", "--set", "messages.replicaCount=2"); err != nil {
		t.Fatalf("helm upgrade: %v\n%s", err, out)
	}
	if again, _ := signingKey(); again != rotated {
		t.Fatalf("helm upgrade dropped the operator's keys: %q -> %q", rotated, again)
	}

	// 5. Uninstall deletes it with the release (no resource-policy keep).
	if out, err := run("uninstall", "messenger", "--namespace", "messenger", "--timeout", "60s"); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, code := signingKey(); code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the signing key Secret outlived helm uninstall")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// 6. A service chart on its own checks its own Secrets.
	out, err = run("install", "auth", filepath.Join(repoRoot(t), "charts", "auth"), "--namespace", "alone", "--timeout", "60s")
	if err == nil {
		t.Fatalf("the auth chart installed alone without its Secrets:\n%s", out)
	}
	for _, w := range []string{"2 object(s) this release needs are missing in namespace alone", "create secret generic messenger-auth-db", "create secret generic messenger-amqp --from-literal=url="} {
		if !strings.Contains(out, w) {
			t.Errorf("the auth chart alone does not say %q:\n%s", w, out)
		}
	}
}
