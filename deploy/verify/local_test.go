package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The local cluster of scripts/cluster.sh, as charts/messenger/values-local.yaml renders it (helm/local.yaml of
// RENDERED_DIR): MariaDB and RabbitMQ are this machine's, external to the cluster, reached at the node's address.
const (
	localNodeAddress = "10.201.0.1"
	localRegistry    = "127.0.0.1:5000/"
	localNodePort    = 30080
	// localCPUBudget: the node has 2 CPUs; everything the release requests, with a rolling update's surge pod and
	// the test pod, stays well under the ~1.5 CPU the brief of values-local.yaml allows.
	localCPUBudget = 1000 // millicores
)

// localReplicas is what values-local.yaml runs.
var localReplicas = map[string]int{"gateway": 2, "auth": 1, "profiles": 1, "friends": 1, "messages": 2}

// TestLocalValuesExternalMode: values-local.yaml renders the external mode — MySQL and RabbitMQ at the node's
// address, reached through NetworkPolicy egress to that address only; the AMQP URL a plain setting and the
// credentials (RabbitMQ's and each service's MySQL user) from the Secrets scripts/cluster-deploy.sh makes —, images
// from the cluster's registry, the gateway on NodePort 30080, and nothing that needs a CRD or metrics-server.
func TestLocalValuesExternalMode(t *testing.T) {
	dir := os.Getenv("RENDERED_DIR")
	if dir == "" {
		t.Skip("RENDERED_DIR is not set: run scripts/k8s-validate.sh (make test-k8s), which renders the charts and sets it")
	}
	path := filepath.Join(dir, "helm", "local.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: scripts/k8s-render.sh must render charts/messenger/values-local.yaml", err)
	}
	objs, err := ParseYAML(path, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range CheckLocalValues(objs) {
		t.Error(p)
	}
}

// CheckLocalValues is TestLocalValuesExternalMode's check (unit-tested on a fixture by TestCheckLocalValuesFires).
func CheckLocalValues(objs []Object) Problems {
	var p Problems
	cpu := 0
	maxPod := 0
	seen := map[string]bool{}
	for _, o := range objs {
		switch o.APIVersion() {
		case "v1", "apps/v1", "policy/v1", "networking.k8s.io/v1":
		default:
			p.add("%s: API %s is not built into Kubernetes (no CRDs, no metrics-server on the local cluster)", o, o.APIVersion())
		}
		if o.Kind() == "Service" && str(get(o.Doc, "spec", "type")) == "NodePort" {
			for _, port := range list(get(o.Doc, "spec", "ports")) {
				if str(mapOf(port)["nodePort"]) != strconv.Itoa(localNodePort) {
					p.add("%s: nodePort %v, want %d", o, mapOf(port)["nodePort"], localNodePort)
				}
			}
			seen["nodeport"] = true
		}
		tpl := PodTemplate(o)
		if tpl == nil {
			continue
		}
		podCPU := 0
		for _, c := range Containers(mapOf(tpl["spec"]), true) {
			if img := str(c["image"]); !strings.HasPrefix(img, localRegistry) {
				p.add("%s: image %s is not from the cluster's registry %s", o, img, localRegistry)
			}
			if pp := str(c["imagePullPolicy"]); pp != "IfNotPresent" {
				p.add("%s: imagePullPolicy %q, want IfNotPresent", o, pp)
			}
			m, err := millicores(str(get(c, "resources", "requests", "cpu")))
			if err != nil {
				p.add("%s: cpu request: %v", o, err)
			}
			podCPU += m
		}
		if o.Kind() != "Deployment" {
			cpu += podCPU // the test pod
			continue
		}
		svc := str(get(tpl, "metadata", "labels", ServiceLabel))
		want, ok := localReplicas[svc]
		if !ok {
			continue
		}
		seen[svc] = true
		replicas := int(get(o.Doc, "spec", "replicas").(float64))
		if replicas != want {
			p.add("%s: %d replicas, want %d", o, replicas, want)
		}
		cpu += replicas * podCPU
		maxPod = max(maxPod, podCPU)
		p = append(p, checkLocalService(objs, o, svc)...)
	}
	for svc := range localReplicas {
		if !seen[svc] {
			p.add("%s: no Deployment", svc)
		}
	}
	if !seen["nodeport"] {
		p.add("no NodePort Service for the gateway")
	}
	if cpu+maxPod > localCPUBudget {
		p.add("CPU requests %dm (+%dm for a rolling update's surge pod) exceed %dm on the 2-CPU node", cpu, maxPod, localCPUBudget)
	}
	return p
}

func checkLocalService(objs []Object, w Object, svc string) Problems {
	var p Problems
	spec := mapOf(get(PodTemplate(w), "spec"))
	env := map[string]string{}
	fromSecret := map[string]string{}
	for _, c := range Containers(spec, false) {
		for _, e := range list(c["env"]) {
			em := mapOf(e)
			if r := mapOf(get(em, "valueFrom", "secretKeyRef")); r != nil {
				fromSecret[str(em["name"])] = str(r["name"]) + "/" + str(r["key"])
			} else if v := str(em["value"]); v != "" {
				env[str(em["name"])] = v
			}
		}
		for _, ef := range list(c["envFrom"]) {
			if cm := findObject(objs, "ConfigMap", str(get(ef, "configMapRef", "name")), w.Namespace()); cm != nil {
				for k, v := range mapOf(cm.Doc["data"]) {
					env[k] = str(v)
				}
			}
		}
	}
	want := map[string]string{"AMQP_USERNAME": "messenger-rabbitmq-user/username", "AMQP_PASSWORD": "messenger-rabbitmq-user/password"}
	hasDB := svc != "gateway"
	if hasDB {
		want["MYSQL_USER"] = fmt.Sprintf("messenger-%s-db/username", svc)
		want["MYSQL_PASSWORD"] = fmt.Sprintf("messenger-%s-db/password", svc)
		if got := env["MYSQL_ADDR"]; got != localNodeAddress+":3306" {
			p.add("%s: MYSQL_ADDR %q, want %s:3306", svc, got, localNodeAddress)
		}
		if got := env["MYSQL_DATABASE"]; got != "messenger_cluster_"+svc {
			p.add("%s: MYSQL_DATABASE %q, want messenger_cluster_%s (apart from make up's messenger_%s)", svc, got, svc, svc)
		}
		if tls, ok := env["MYSQL_TLS"]; ok && tls != "false" {
			p.add("%s: MYSQL_TLS %q: the local MariaDB has no TLS", svc, tls)
		}
	}
	for name, ref := range want {
		if fromSecret[name] != ref {
			p.add("%s: %s from Secret %q, want %s", svc, name, fromSecret[name], ref)
		}
	}
	if ref, ok := fromSecret["AMQP_URL"]; ok {
		p.add("%s: AMQP_URL from Secret %s: external mode gives it as a setting", svc, ref)
	}
	if got := env["AMQP_URL"]; !strings.HasPrefix(got, "amqp://"+localNodeAddress+":5672/") || strings.Contains(got, "@") {
		p.add("%s: AMQP_URL %q, want amqp://%s:5672/<vhost> without credentials", svc, got, localNodeAddress)
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		if env[k] != "" {
			p.add("%s: %s is set: tracing is off on the local cluster", svc, k)
		}
	}
	// Egress to MySQL and RabbitMQ: to the node's address only.
	labels := mapOf(get(PodTemplate(w), "metadata", "labels"))
	found := map[string]bool{}
	for _, np := range objs {
		if np.Kind() != "NetworkPolicy" || !Selector(mapOf(get(np.Doc, "spec", "podSelector"))).Matches(labels) {
			continue
		}
		for _, r := range list(get(np.Doc, "spec", "egress")) {
			rule := mapOf(r)
			for _, port := range list(rule["ports"]) {
				kind := infraKind(mapOf(port)["port"])
				if kind != "mysql" && kind != "rabbitmq" {
					continue
				}
				found[kind] = true
				to := list(rule["to"])
				if len(to) != 1 || str(get(to[0], "ipBlock", "cidr")) != localNodeAddress+"/32" || len(mapOf(to[0])) != 1 {
					p.add("%s: egress to %s goes to %v, want only ipBlock %s/32", svc, kind, to, localNodeAddress)
				}
			}
		}
	}
	if !found["rabbitmq"] || found["mysql"] != hasDB {
		p.add("%s: egress rules for mysql %v, rabbitmq %v; want mysql %v, rabbitmq true", svc, found["mysql"], found["rabbitmq"], hasDB)
	}
	return p
}

// millicores parses a CPU quantity ("50m", "1", "0.5"); empty is 0.
func millicores(q string) (int, error) {
	switch {
	case q == "":
		return 0, nil
	case strings.HasSuffix(q, "m"):
		return strconv.Atoi(strings.TrimSuffix(q, "m"))
	default:
		f, err := strconv.ParseFloat(q, 64)
		return int(f * 1000), err
	}
}

func TestCheckLocalValuesFires(t *testing.T) {
	render := func() []Object { return helmTemplate(t, umbrella(t), valuesArgs(t, "values-local.yaml")...) }
	if p := CheckLocalValues(render()); len(p) != 0 {
		t.Fatalf("values-local.yaml: %v", p)
	}
	// rendered finds an object of the release (in namespace messenger); nil fails the mutation's check below.
	rendered := func(objs []Object, kind, name string) map[string]any {
		if o := findObject(objs, kind, name, "messenger"); o != nil {
			return o.Doc
		}
		panic(kind + "/" + name + " not rendered")
	}
	deployment := func(objs []Object, svc string) map[string]any {
		return rendered(objs, "Deployment", "messenger-"+svc)
	}
	container := func(objs []Object, svc string) map[string]any {
		return Containers(mapOf(get(deployment(objs, svc), "spec", "template", "spec")), false)[0]
	}
	for _, tc := range []struct {
		name   string
		mutate func([]Object)
		want   string
	}{
		{"other registry", func(o []Object) { container(o, "auth")["image"] = "docker.io/simplemessenger/auth:1" }, "is not from the cluster's registry"},
		{"replicas", func(o []Object) { mapOf(deployment(o, "messages")["spec"])["replicas"] = float64(1) }, "1 replicas, want 2"},
		{"mysql in the cluster", func(o []Object) {
			np := rendered(o, "NetworkPolicy", "messenger-friends")
			for _, r := range list(get(np, "spec", "egress")) {
				if infraKind(mapOf(list(mapOf(r)["ports"])[0])["port"]) == "mysql" {
					mapOf(r)["to"] = []any{map[string]any{"podSelector": map[string]any{}}}
				}
			}
		}, "friends: egress to mysql goes to"},
		{"URL from a Secret", func(o []Object) {
			c := container(o, "gateway")
			c["env"] = append(list(c["env"]), map[string]any{"name": "AMQP_URL", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "messenger-amqp", "key": "url"}}})
		}, "gateway: AMQP_URL from Secret messenger-amqp/url"},
		{"a CRD", func(o []Object) { o[0].Doc["apiVersion"] = "monitoring.coreos.com/v1" }, "is not built into Kubernetes"},
		{"CPU", func(o []Object) {
			get(container(o, "profiles"), "resources", "requests").(map[string]any)["cpu"] = "500m"
		}, "exceed 1000m"},
		{"tracing", func(o []Object) {
			cm := rendered(o, "ConfigMap", "messenger-auth")
			mapOf(cm["data"])["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector:4317"
		}, "auth: OTEL_EXPORTER_OTLP_ENDPOINT is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render()
			tc.mutate(objs)
			if p := CheckLocalValues(objs); !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Errorf("problems %v, want one with %q", p, tc.want)
			}
		})
	}
}
