package verify

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"text/template"
)

// fixture renders a small, correct release of the five services, shaped like charts/messenger-lib's output.
// Each test below breaks one thing and proves the check that guards it fires.
var fixtureTpl = template.Must(template.New("f").Funcs(template.FuncMap{
	"port": func(s string) int {
		return map[string]int{"gateway": 8080, "auth": 8081, "profiles": 8082, "friends": 8083, "messages": 8084}[s]
	},
}).Parse(`
{{- range $svc, $callees := .Graph }}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: r-{{ $svc }}}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Service
metadata: {name: r-{{ $svc }}, labels: {app.kubernetes.io/name: {{ $svc }}, app.kubernetes.io/instance: r}}
spec:
  selector: {app.kubernetes.io/name: {{ $svc }}, app.kubernetes.io/instance: r}
  ports:
    - {name: http, port: 80, targetPort: http}
    - {name: admin, port: 9090, targetPort: admin}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: r-{{ $svc }}}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: {{ $svc }}, app.kubernetes.io/instance: r}}
  template:
    metadata: {labels: {app.kubernetes.io/name: {{ $svc }}, app.kubernetes.io/instance: r, app.kubernetes.io/version: "1"}}
    spec:
      serviceAccountName: r-{{ $svc }}
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: {{ $svc }}
          image: simplemessenger/{{ $svc }}:1
          ports:
            - {name: http, containerPort: {{ port $svc }}}
            - {name: admin, containerPort: 9090}
          env:
            - {name: GOMEMLIMIT, value: "230MiB"}
            - {name: OTEL_EXPORTER_OTLP_ENDPOINT, value: "http://collector:4317"}
            {{- if ne $svc "gateway" }}
            - {name: MYSQL_DATABASE, value: {{ $svc }}}
            {{- end }}
          resources: {limits: {cpu: "1", memory: 256Mi}, requests: {cpu: 50m, memory: 64Mi}}
          securityContext:
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          livenessProbe: {httpGet: {path: /healthz, port: admin}}
          readinessProbe: {httpGet: {path: /readyz, port: admin}}
          startupProbe: {httpGet: {path: /healthz, port: admin}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: r-{{ $svc }}}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: {{ $svc }}, app.kubernetes.io/instance: r}}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: r-{{ $svc }}}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: {{ $svc }}, app.kubernetes.io/instance: r}}
  endpoints: [{port: admin, path: /metrics}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: r-{{ $svc }}}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: {{ $svc }}, app.kubernetes.io/instance: r}}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if eq $svc "gateway" }}
    - ports: [{port: http, protocol: TCP}]
    {{- else }}
    - from:
        {{- range $caller := index $.Callers $svc }}
        - podSelector: {matchLabels: {app.kubernetes.io/name: {{ $caller }}, app.kubernetes.io/instance: r}}
        {{- end }}
      ports: [{port: http, protocol: TCP}]
    {{- end }}
    - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}}]
      ports: [{port: admin, protocol: TCP}]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
      ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
    {{- if ne $svc "gateway" }}
    - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app.kubernetes.io/name: mariadb}}}]
      ports: [{port: 3306, protocol: TCP}]
    {{- end }}
    - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app.kubernetes.io/component: rabbitmq}}}]
      ports: [{port: 5672, protocol: TCP}]
    - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app.kubernetes.io/component: opentelemetry-collector}}}]
      ports: [{port: 4317, protocol: TCP}]
    {{- range $callee := $callees }}
    - to: [{podSelector: {matchLabels: {app.kubernetes.io/name: {{ $callee }}, app.kubernetes.io/instance: r}}}]
      ports: [{port: {{ port $callee }}, protocol: TCP}]
    {{- end }}
{{- end }}
`))

func fixture(t *testing.T) []Object {
	t.Helper()
	callers := map[string][]string{}
	for svc := range TheCallGraph {
		callers[svc] = TheCallGraph.Callers(svc)
	}
	var buf bytes.Buffer
	if err := fixtureTpl.Execute(&buf, map[string]any{"Graph": TheCallGraph, "Callers": callers}); err != nil {
		t.Fatal(err)
	}
	objs, err := ParseYAML("fixture.yaml", buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	return objs
}

func find(t *testing.T, objs []Object, kind, name string) map[string]any {
	t.Helper()
	o := findObject(objs, kind, name, "")
	if o == nil {
		t.Fatalf("fixture has no %s/%s", kind, name)
	}
	return o.Doc
}

func container(t *testing.T, objs []Object, svc string) map[string]any {
	return mapOf(list(get(find(t, objs, "Deployment", "r-"+svc), "spec", "template", "spec", "containers"))[0])
}

func allChecks(objs []Object) Problems {
	var p Problems
	p = append(p, CheckSelectors(objs)...)
	p = append(p, CheckServices(objs)...)
	p = append(p, CheckProbes(objs)...)
	p = append(p, CheckSecurity(objs)...)
	p = append(p, CheckServiceAccounts(objs)...)
	p = append(p, CheckNetworkPolicies(objs, TheCallGraph, PublicService)...)
	return p
}

func TestFixturePasses(t *testing.T) {
	for _, p := range allChecks(fixture(t)) {
		t.Error(p)
	}
}

// Each case breaks the fixture in one way; the named check must report a problem containing want.
func TestChecksFire(t *testing.T) {
	cases := []struct {
		name   string
		check  func([]Object) Problems
		want   string
		break_ func(t *testing.T, objs []Object)
	}{
		{"selector does not match pod labels", CheckSelectors, "does not match the pod template labels", func(t *testing.T, o []Object) {
			get(find(t, o, "Deployment", "r-auth"), "spec", "selector", "matchLabels").(map[string]any)["app.kubernetes.io/name"] = "authx"
		}},
		{"empty selector", CheckSelectors, "empty spec.selector", func(t *testing.T, o []Object) {
			mapOf(get(find(t, o, "Deployment", "r-auth"), "spec"))["selector"] = map[string]any{}
		}},
		{"PDB selects nothing", CheckSelectors, "matches no workload", func(t *testing.T, o []Object) {
			get(find(t, o, "PodDisruptionBudget", "r-auth"), "spec", "selector", "matchLabels").(map[string]any)["app.kubernetes.io/instance"] = "other"
		}},
		{"Service selects nothing", CheckServices, "matches no workload", func(t *testing.T, o []Object) {
			get(find(t, o, "Service", "r-friends"), "spec", "selector").(map[string]any)["app.kubernetes.io/name"] = "friend"
		}},
		{"Service targets a missing port name", CheckServices, `targetPort "htp" is no container port`, func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "Service", "r-friends"), "spec", "ports"))[0])["targetPort"] = "htp"
		}},
		{"Service targets a number", CheckServices, "want the name of a container port", func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "Service", "r-friends"), "spec", "ports"))[0])["targetPort"] = float64(8083)
		}},
		{"liveness on the http port", CheckProbes, "livenessProbe on port http", func(t *testing.T, o []Object) {
			get(container(t, o, "profiles"), "livenessProbe", "httpGet").(map[string]any)["port"] = "http"
		}},
		{"readiness on the wrong path", CheckProbes, `readinessProbe path "/healthz"`, func(t *testing.T, o []Object) {
			get(container(t, o, "profiles"), "readinessProbe", "httpGet").(map[string]any)["path"] = "/healthz"
		}},
		{"no startup probe", CheckProbes, "startupProbe is not an httpGet probe", func(t *testing.T, o []Object) {
			delete(container(t, o, "profiles"), "startupProbe")
		}},
		{"ServiceMonitor on the http port", CheckProbes, "does not reach the admin port", func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "ServiceMonitor", "r-messages"), "spec", "endpoints"))[0])["port"] = "http"
		}},
		{"ServiceMonitor on a port no Service has", CheckProbes, `endpoint port "metrics" is a port of none`, func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "ServiceMonitor", "r-messages"), "spec", "endpoints"))[0])["port"] = "metrics"
		}},
		{"ServiceMonitor on the wrong path", CheckProbes, "want /metrics", func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "ServiceMonitor", "r-messages"), "spec", "endpoints"))[0])["path"] = "/metrix"
		}},
		{"runs as root", CheckSecurity, "runAsNonRoot is not true", func(t *testing.T, o []Object) {
			get(find(t, o, "Deployment", "r-gateway"), "spec", "template", "spec", "securityContext").(map[string]any)["runAsNonRoot"] = false
		}},
		{"writable root filesystem", CheckSecurity, "readOnlyRootFilesystem is not true", func(t *testing.T, o []Object) {
			mapOf(container(t, o, "gateway")["securityContext"])["readOnlyRootFilesystem"] = false
		}},
		{"privilege escalation", CheckSecurity, "allowPrivilegeEscalation is not false", func(t *testing.T, o []Object) {
			delete(mapOf(container(t, o, "gateway")["securityContext"]), "allowPrivilegeEscalation")
		}},
		{"capabilities kept", CheckSecurity, "capabilities.drop does not contain ALL", func(t *testing.T, o []Object) {
			get(container(t, o, "gateway"), "securityContext", "capabilities").(map[string]any)["drop"] = []any{"NET_RAW"}
		}},
		{"no seccomp profile", CheckSecurity, "seccompProfile.type", func(t *testing.T, o []Object) {
			delete(get(find(t, o, "Deployment", "r-gateway"), "spec", "template", "spec", "securityContext").(map[string]any), "seccompProfile")
		}},
		{"no memory limit", CheckSecurity, "no memory limit", func(t *testing.T, o []Object) {
			delete(get(container(t, o, "gateway"), "resources", "limits").(map[string]any), "memory")
		}},
		{"no GOMEMLIMIT", CheckSecurity, "GOMEMLIMIT not set", func(t *testing.T, o []Object) {
			c := container(t, o, "gateway")
			c["env"] = list(c["env"])[1:]
		}},
		{"pod mounts the token", CheckSecurity, "automountServiceAccountToken is true", func(t *testing.T, o []Object) {
			get(find(t, o, "Deployment", "r-gateway"), "spec", "template", "spec").(map[string]any)["automountServiceAccountToken"] = true
		}},
		{"ServiceAccount mounts the token", CheckServiceAccounts, "automountServiceAccountToken is not false", func(t *testing.T, o []Object) {
			delete(find(t, o, "ServiceAccount", "r-auth"), "automountServiceAccountToken")
		}},
		{"pod runs as a missing ServiceAccount", CheckServiceAccounts, `serviceAccountName "r-nope" is not in the rendered set`, func(t *testing.T, o []Object) {
			get(find(t, o, "Deployment", "r-auth"), "spec", "template", "spec").(map[string]any)["serviceAccountName"] = "r-nope"
		}},
		{"pod runs as the default ServiceAccount", CheckServiceAccounts, "runs as the default ServiceAccount", func(t *testing.T, o []Object) {
			delete(get(find(t, o, "Deployment", "r-auth"), "spec", "template", "spec").(map[string]any), "serviceAccountName")
		}},
		{"no NetworkPolicy", nwp, "no NetworkPolicy selects its pods", func(t *testing.T, o []Object) {
			find(t, o, "NetworkPolicy", "r-friends")["kind"] = "ConfigMap"
		}},
		{"ingress only", nwp, "do not restrict both Ingress and Egress", func(t *testing.T, o []Object) {
			mapOf(find(t, o, "NetworkPolicy", "r-friends")["spec"])["policyTypes"] = []any{"Ingress"}
		}},
		{"a non-caller may call", nwp, "friends: ingress to the http port allowed from [gateway messages profiles]", func(t *testing.T, o []Object) {
			rule := mapOf(list(get(find(t, o, "NetworkPolicy", "r-friends"), "spec", "ingress"))[0])
			rule["from"] = append(list(rule["from"]), map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "profiles"}}})
		}},
		{"a caller is blocked", nwp, "profiles: ingress to the http port allowed from [auth friends gateway], want exactly its callers [auth friends gateway messages]", func(t *testing.T, o []Object) {
			rule := mapOf(list(get(find(t, o, "NetworkPolicy", "r-profiles"), "spec", "ingress"))[0])
			var keep []any
			for _, p := range list(rule["from"]) {
				if str(get(p, "podSelector", "matchLabels", ServiceLabel)) != "messages" {
					keep = append(keep, p)
				}
			}
			rule["from"] = keep
		}},
		{"an internal service is open to the outside", nwp, "profiles: ingress to the http port allowed from [<anywhere>", func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "NetworkPolicy", "r-profiles"), "spec", "ingress"))[0])["from"] = nil
		}},
		{"the gateway is closed to the outside", nwp, "does not take traffic from anywhere", func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "NetworkPolicy", "r-gateway"), "spec", "ingress"))[0])["from"] = []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"x": "y"}}}}
		}},
		{"Prometheus reaches the http port", nwp, "to a port other than the admin port", func(t *testing.T, o []Object) {
			mapOf(list(get(find(t, o, "NetworkPolicy", "r-auth"), "spec", "ingress"))[1])["ports"] = nil
		}},
		{"a callee is missing", nwp, "messages: egress allowed to services [auth profiles], want exactly its callees [auth friends profiles]", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-messages")["spec"])
			var keep []any
			for _, r := range list(np["egress"]) {
				if str(get(list(mapOf(r)["to"])[0], "podSelector", "matchLabels", ServiceLabel)) != "friends" {
					keep = append(keep, r)
				}
			}
			np["egress"] = keep
		}},
		{"an extra callee", nwp, "auth: egress allowed to services [messages profiles]", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-auth")["spec"])
			np["egress"] = append(list(np["egress"]), map[string]any{
				"to":    []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{ServiceLabel: "messages"}}}},
				"ports": []any{map[string]any{"port": float64(8084)}},
			})
		}},
		{"a callee on its admin port", nwp, "egress to profiles on port 9090, which is not its http port", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-auth")["spec"])
			for _, r := range list(np["egress"]) {
				if str(get(list(mapOf(r)["to"])[0], "podSelector", "matchLabels", ServiceLabel)) == "profiles" {
					mapOf(list(mapOf(r)["ports"])[0])["port"] = float64(9090)
				}
			}
		}},
		{"egress anywhere", nwp, "on every port", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-auth")["spec"])
			np["egress"] = append(list(np["egress"]), map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}}}})
		}},
		{"no egress to MySQL", nwp, "friends: no egress to mysql", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-friends")["spec"])
			np["egress"] = append(list(np["egress"])[:1], list(np["egress"])[2:]...)
		}},
		{"the gateway reaches MySQL", nwp, "gateway: egress to mysql, which it does not use", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-gateway")["spec"])
			np["egress"] = append(list(np["egress"]), map[string]any{"to": []any{map[string]any{"namespaceSelector": map[string]any{}}}, "ports": []any{map[string]any{"port": float64(3306)}}})
		}},
		{"no DNS", nwp, "no egress to dns", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-gateway")["spec"])
			np["egress"] = list(np["egress"])[1:]
		}},
		{"an unknown dependency", nwp, "is no known dependency", func(t *testing.T, o []Object) {
			np := mapOf(find(t, o, "NetworkPolicy", "r-gateway")["spec"])
			np["egress"] = append(list(np["egress"]), map[string]any{"to": []any{map[string]any{"namespaceSelector": map[string]any{}}}, "ports": []any{map[string]any{"port": float64(6379)}}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs := fixture(t)
			c.break_(t, objs)
			probs := c.check(objs)
			for _, p := range probs {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got:\n%s", c.want, strings.Join(probs, "\n"))
		})
	}
}

func nwp(objs []Object) Problems { return CheckNetworkPolicies(objs, TheCallGraph, PublicService) }

// TestEnvFromConfigMap: variables given through envFrom (as the chart does) count, so a database service whose
// MYSQL_DATABASE comes from its ConfigMap still needs, and has, MySQL egress; without the ConfigMap it has none.
func TestEnvFromConfigMap(t *testing.T) {
	objs := fixture(t)
	c := container(t, objs, "friends")
	var env []any
	for _, e := range list(c["env"]) {
		if str(mapOf(e)["name"]) != "MYSQL_DATABASE" {
			env = append(env, e)
		}
	}
	c["env"] = env
	c["envFrom"] = []any{map[string]any{"configMapRef": map[string]any{"name": "r-friends"}}}
	cm, err := ParseYAML("cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r-friends}\ndata: {MYSQL_DATABASE: friends}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := nwp(append(objs, cm...)); len(p) != 0 {
		t.Errorf("with the ConfigMap: %v", p)
	}
	if p := strings.Join(nwp(objs), "\n"); !strings.Contains(p, "friends: egress to mysql, which it does not use") {
		t.Errorf("without the ConfigMap, want mysql egress reported as unused, got %s", p)
	}
}

func TestLoadSetsGroupsFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		mustWrite(t, dir+"/"+rel, body)
	}
	write("helm/kind.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: b}}]\n")
	write("helm/prod/charts/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	write("helm/prod/charts/y.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n")
	sets, err := LoadSets(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(SortedKeys(sets), len(sets["helm/kind.yaml"]), len(sets["helm/prod"]))
	if want := "[helm/kind.yaml helm/prod] 2 2"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
